// The static page: `npm run web:build` writes web/dist/, which any static host can serve
// (relative paths throughout); `npm run web` builds it and serves it locally.
import { defineConfig } from 'vite';

// Cross-origin isolation lets onnxruntime-web use threads; without it the page runs single-threaded.
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root: 'web',
  base: './',
  // scripts/web-assets.ts writes the models, diagrams and summaries here (RESNETS_WEB_PUBLIC moves it).
  publicDir: process.env.RESNETS_WEB_PUBLIC ?? 'public',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  server: { headers: isolation },
  preview: { headers: isolation, port: 5173 },
});
