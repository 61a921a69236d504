/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies the API to a local `lathe serve`, so the dev server is same-origin
// for the browser; the server's CSRF check wants an Origin equal to its own base URL, so the
// proxy rewrites it (changeOrigin covers Host; Origin is set explicitly).
const api = process.env.LATHE_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/api": {
        target: api,
        changeOrigin: true,
        headers: { origin: api },
      },
    },
  },
  build: {
    outDir: "dist",
    sourcemap: true,
  },
  test: {
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
    environment: "node",
  },
});
