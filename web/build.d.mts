// Types of build.mjs (the build script stays plain JavaScript so `npm run build` needs no TypeScript runner).
export declare const DEFAULT_OUT_DIR: string;
export declare function buildExplorer(outDir?: string): Promise<{ js: string; css: string }>;
