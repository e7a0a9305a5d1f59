// Types for demo-rules.mjs (a plain Node script so operators can run it without a build).
export declare const prometheusDir: string;
export declare const forDivisor: number;
export declare const rangeDivisor: number;
export declare const minForMs: number;
export declare const minScrapesPerRange: number;
export declare function parseDurationMs(text: string): number;
export declare function formatDurationMs(ms: number): string;
export declare function compressFor(text: string): string;
export declare function compressRange(text: string, scrapeIntervalMs?: number): string;
export declare function renderDemoRules(text: string, options?: { scrapeIntervalMs?: number }): string;
export declare function renderDemoConfig(text: string, options?: { scrapeIntervalMs?: number }): string;
export declare function ruleFiles(rulesDir?: string): string[];
export declare function writeDemoRules(options: {
  outDir: string;
  scrapeIntervalMs?: number;
  rulesDir?: string;
  configFile?: string;
}): { ruleFiles: string[]; configFile: string };
