// The little of the WebAssembly API the wasm modules here use (lib.dom is not part of this
// build): llhttp's (http/llhttp-undici-framer.ts) and the SSE scan's (mcp/sse-scan.ts).

interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: unknown };
}

/** The global WebAssembly object, typed for what is used of it. */
export const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
