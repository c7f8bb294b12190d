/** Imported first by extension.ts: marks when the bundle's module code began to evaluate. */
export const moduleStart = performance.now();
