// One build for every stage: nothing stage-specific is baked in (runtime settings come from /config.json).
// Asset names carry a hex content hash so components/edge.py's HASHED_NAME rule serves them immutable for a year,
// and nothing is inlined into index.html, so the pages run under a CSP without 'unsafe-inline'.
import { defineConfig } from "vite";

const apiTarget = process.env.MUMBLE_LOCAL_ORIGIN; // `make site-dev`: the local app's one origin (API, config, Cognito)

export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    rollupOptions: {
      output: {
        hashCharacters: "hex",
        entryFileNames: "assets/[name]-[hash].js",
        chunkFileNames: "assets/[name]-[hash].js",
        assetFileNames: "assets/[name]-[hash][extname]",
      },
    },
  },
  server: apiTarget
    ? { // the Host header kept, so config.json names this dev server's origin for Cognito (same-origin calls)
        proxy: Object.fromEntries(["/api", "/config.json", "/cognito"].map(
          (path) => [path, { target: apiTarget, changeOrigin: false }])),
      }
    : undefined,
});
