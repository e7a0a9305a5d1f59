import {
  Metadata,
  ResponderBuilder,
  ServerInterceptingCall,
  ServerListenerBuilder,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { defaultIngestLimits } from '../../ingest/index.js';
import { errorKinds, TriadError } from '../../shared/index.js';

/**
 * What a request may weigh before triad looks inside it, per method (DESIGN §8; the list is in docs/security.md).
 * Sizes are of the decompressed message: grpc-js stops inflating at the server-wide maximum (the largest row here),
 * and each method's own limit is checked before the message is decoded, so a gzip bomb costs at most that much
 * memory and never a decode. The one large message is an ingest batch: 5,000 operations of ~150 bytes.
 */
export interface MessageBound {
  maxBytes: number;
  /** A repeated top-level field counted in the encoded bytes, before anything is allocated for its items. */
  items?: { field: number; name: string; max: number };
}

const kib = 1024;
export const messageBounds: Readonly<Record<string, MessageBound>> = {
  '/triad.v1.Ingest/RecordOperations': {
    maxBytes: 2 * kib * kib,
    items: { field: 1, name: 'operations', max: defaultIngestLimits.maxItems },
  },
  '/triad.v1.Peer/Link': { maxBytes: 64 * kib },
  '/triad.v1.Peer/Apply': { maxBytes: 1 * kib },
  '/triad.v1.Admin/Mutate': { maxBytes: 16 * kib },
  // A plan and its analysis templates, as YAML (the shipped cascade with its templates is about 6 KiB).
  '/triad.v1.Rollouts/Create': { maxBytes: 64 * kib },
  '/triad.v1.Node/GetState': { maxBytes: 1 * kib },
  '/triad.v1.Node/Heartbeat': { maxBytes: 1 * kib },
};
/** Every method not in the table: the Admin reads and small commands, the health service. */
const defaultBound: MessageBound = { maxBytes: 16 * kib };

export function messageBoundOf(method: string): MessageBound {
  return messageBounds[method] ?? defaultBound;
}

/** The server-wide decompression limit grpc-js enforces: the largest message any method accepts. */
export const maxMessageBytes = Math.max(defaultBound.maxBytes, ...Object.values(messageBounds).map((b) => b.maxBytes));

const idPattern = /^[A-Za-z0-9._:-]*$/;
const idCharacters = 'letters, digits, ".", "_", ":" and "-"';

/**
 * Text a request may carry, by field name (the .proto's). Everything else: at most 256 characters. Every string of
 * every request is checked, so a field added later is bounded too. Control characters (C0, DEL, C1) — NUL among them
 * — are refused everywhere: they break logs, terminals and PostgreSQL text.
 */
export const textBounds: Readonly<Record<string, { max: number; pattern?: RegExp; allowed?: string }>> = {
  // The layer manager's own rules are stricter where they apply (a reason of 500, a label's pattern): these are the
  // outer bounds every request meets first, whatever method carries the field.
  reason: { max: 1_000 },
  label: { max: 64 },
  actor: { max: 200 },
  trace_id: { max: 64, pattern: idPattern, allowed: idCharacters },
  correlation_id: { max: 128, pattern: idPattern, allowed: idCharacters },
  epoch_id: { max: 64, pattern: idPattern, allowed: idCharacters },
  operation_id: { max: 36, pattern: idPattern, allowed: idCharacters },
};
const defaultTextMax = 256;
/** Items of any repeated field but `operations` (bounded above): layers, instances, vector entries, members. */
export const maxRepeated = 256;
/** How deep a request's messages nest (PeerMessage → EpochOutcome → MemberResult is 3). */
const maxDepth = 8;

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/;

/** Marks a request the deserializer refused; the interceptor answers it with the error, the handler never sees it. */
const refusedRequest = Symbol('refused request');
type Refused = { [refusedRequest]: TriadError };

/**
 * Wraps a method's deserializer: the size and item count are checked on the bytes, before decoding. A refused
 * request decodes to a marker rather than throwing, because grpc-js turns a throwing deserializer into a bare
 * INTERNAL; the interceptor below answers the marker with the real code and a message naming the bound.
 */
export function boundedDeserializer(method: string, deserialize: (bytes: Buffer) => unknown) {
  const bound = messageBoundOf(method);
  return (bytes: Buffer): unknown => {
    if (bytes.length > bound.maxBytes) {
      return refuse(
        new TriadError(
          'RESOURCE_EXHAUSTED',
          `${method}: the request is ${bytes.length} bytes (decompressed), at most ${bound.maxBytes} are accepted`,
        ),
      );
    }
    if (bound.items) {
      const count = countField(bytes, bound.items.field);
      if (count === undefined)
        return refuse(new TriadError('INPUT_INVALID', `${method}: the request is not valid protobuf`));
      if (count > bound.items.max) {
        return refuse(
          new TriadError(
            'INPUT_INVALID',
            `${bound.items.name} has ${count} items, at most ${bound.items.max} are allowed per call: split the batch`,
          ),
        );
      }
    }
    try {
      return deserialize(bytes);
    } catch (err) {
      return refuse(
        new TriadError('INPUT_INVALID', `${method}: the request is not valid protobuf (${(err as Error).message})`),
      );
    }
  };
}

function refuse(error: TriadError): Refused {
  return { [refusedRequest]: error };
}

/** Occurrences of a top-level field in encoded protobuf, skipping everything else; undefined when malformed. */
function countField(bytes: Buffer, field: number): number | undefined {
  const reader = protobuf.Reader.create(bytes);
  let count = 0;
  try {
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag >>> 3 === field) count++;
      reader.skipType(tag & 7);
    }
  } catch {
    return undefined;
  }
  return count;
}

/**
 * The first thing wrong with a decoded request, or undefined: a string too long, of characters not allowed, or with
 * a control character; a repeated field too long; a number that is not finite. Paths name fields as the .proto does
 * (`operations[3].trace_id`), since that is what the sender wrote.
 */
export function requestProblem(message: unknown): string | undefined {
  return valueProblem('', message, '', 0);
}

/** `field` is the .proto name the value belongs to (an array's items share their field's name and bound). */
function valueProblem(field: string, value: unknown, at: string, depth: number): string | undefined {
  if (typeof value === 'string') {
    const problem = textProblem(field, value);
    return problem ? `${at}: ${problem}` : undefined;
  }
  if (typeof value === 'number')
    return Number.isFinite(value) ? undefined : `${at}: expected a finite number, received ${value}`;
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return undefined;
  if (depth > maxDepth) return `${at || 'request'}: nested more than ${maxDepth} levels deep`;
  if (Array.isArray(value)) {
    // An ingest batch is bounded on its bytes (count and size) and the ingest validator checks every field of every
    // item, answering each with its own reason (the good items of a batch are still recorded): refusing the whole
    // batch here for one bad item would undo that.
    if (at === 'operations') return undefined;
    if (value.length > maxRepeated) return `${at}: ${value.length} items, at most ${maxRepeated} are allowed`;
    for (let i = 0; i < value.length; i++) {
      const problem = valueProblem(field, value[i], `${at}[${i}]`, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  for (const [key, inner] of Object.entries(value)) {
    const problem = valueProblem(key, inner, at ? `${at}.${key}` : key, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}

export function textProblem(field: string, value: string): string | undefined {
  const bound = textBounds[field];
  const max = bound?.max ?? defaultTextMax;
  if (value.length > max) return `${value.length} characters, at most ${max} are allowed`;
  const control = controlCharacter.exec(value);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase();
    return `control character U+${code} at position ${control.index} (not allowed in any text field)`;
  }
  if (bound?.pattern && value !== '' && !bound.pattern.test(value)) {
    return `"${value}" has characters outside ${bound.allowed ?? bound.pattern.source}`;
  }
  return undefined;
}

/** Metadata a client may set that a handler reads: bounded like the fields of the same names. */
const boundedMetadata = [
  ['x-trace-id', 'trace_id'],
  ['x-correlation-id', 'correlation_id'],
] as const;

/**
 * The bounds edge of every gRPC server: refuses, with the code and a message naming the field and its bound, a request
 * the deserializer marked (too large, too many items, not protobuf) and one whose decoded fields break a bound;
 * also a trace or correlation id in metadata that breaks its bound. The handler never sees a refused request.
 */
export function createBoundsInterceptor(options: {
  onRefused?: (method: string, code: 'RESOURCE_EXHAUSTED' | 'INPUT_INVALID') => void;
}): ServerInterceptor {
  return (methodDescriptor, call) => {
    const method = methodDescriptor.path;
    let closed = false;
    const refuseCall = (error: TriadError) => {
      if (closed) return;
      closed = true;
      options.onRefused?.(method, error.code === 'RESOURCE_EXHAUSTED' ? 'RESOURCE_EXHAUSTED' : 'INPUT_INVALID');
      const trailer = new Metadata();
      trailer.set('triad-error-code', error.code);
      call.sendStatus({ code: errorKinds[error.code].grpc, details: error.detail, metadata: trailer });
    };
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        for (const [key, field] of boundedMetadata) {
          const value = metadata.get(key)[0];
          const problem = typeof value === 'string' ? textProblem(field, value) : undefined;
          if (problem) {
            refuseCall(new TriadError('INPUT_INVALID', `metadata ${key}: ${problem}`));
            return;
          }
        }
        next(metadata);
      })
      .withOnReceiveMessage((message, next) => {
        if (closed) return;
        const refused = (message as Partial<Refused> | null)?.[refusedRequest];
        if (refused) {
          refuseCall(refused);
          return;
        }
        const problem = requestProblem(message);
        if (problem) {
          refuseCall(new TriadError('INPUT_INVALID', problem));
          return;
        }
        next(message);
      })
      .build();
    return new ServerInterceptingCall(call, new ResponderBuilder().withStart((next) => next(listener)).build());
  };
}
