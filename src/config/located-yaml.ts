import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../shared/index.js';

type PathKey = string | number;

/** Alias expansions a config file may use; triad's own files use none. */
export const maxAliasCount = 50;
/** Bytes a config file may have (read before parsing); triad's own are a few KB. */
export const maxConfigFileBytes = 1024 * 1024;

/**
 * Parses YAML text and validates it with a zod schema whose keys mirror the file, so every zod issue path is also
 * a YAML path: errors come out as `config/layers.yaml:14:3: layers.1.priority: expected number, received string`.
 */
export function parseLocatedYaml<S extends z.ZodType>(file: string, text: string, schema: S): z.output<S> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number | undefined) => {
    if (offset === undefined) return file;
    const { line, col } = lines.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => ({ where: at(e.pos[0]), field: '', message: firstLine(e.message) })));
  }
  let value: unknown;
  try {
    // Aliases expand when converted: a few lines of nested `*a` make gigabytes (a "billion laughs" file).
    value = doc.toJS({ maxAliasCount }) ?? {};
  } catch (err) {
    throw new ConfigError([
      { where: file, field: '', message: `${firstLine((err as Error).message)} (at most ${maxAliasCount} alias uses)` },
    ]);
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues: ConfigIssue[] = result.error.issues.map((issue) => {
    const path = issue.path.filter((p): p is PathKey => typeof p !== 'symbol');
    // An unknown key is best pointed at by the key itself, not by the object holding it.
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const where = keys.length > 0 ? at(keyOffset(doc, path, String(keys[0]))) : at(nearestOffset(doc, path));
    return { where, field: path.join('.'), message: issue.message };
  });
  throw new ConfigError(issues);
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

/** Start offset of the node at `path`, walking up while a key is missing (a required key points at its parent). */
function nearestOffset(doc: Document, path: readonly PathKey[]): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true) as YamlNode | undefined;
    const start = node?.range?.[0];
    if (start !== undefined) return start;
  }
  return doc.contents?.range?.[0];
}

function keyOffset(doc: Document, path: readonly PathKey[], key: string): number | undefined {
  const parent = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (isMap(parent)) {
    for (const pair of parent.items) {
      if (isScalar(pair.key) && String(pair.key.value) === key) return pair.key.range?.[0];
    }
  }
  if (isSeq(parent)) return parent.range?.[0];
  return nearestOffset(doc, path);
}
