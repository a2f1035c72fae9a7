import { defineConfig } from "vite";

// The console is built into the gateway's embedded directory. Names carry
// a content hash so the gateway can serve them as immutable; no inline
// script is emitted (the gateway's Content-Security-Policy forbids them).
export default defineConfig({
  base: "/",
  build: {
    outDir: "../../gateway/console/dist",
    emptyOutDir: true,
    target: "es2020",
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
  server: {
    // `npm run dev` proxies the API to the gateway of `make run`.
    proxy: { "/v1": { target: "http://127.0.0.1:8080" } },
  },
});
