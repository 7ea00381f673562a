/**
 * The page's static assets. The browser code is TypeScript (type-checked with the rest of the
 * project) bundled in memory by esbuild when the server starts: no build step, nothing written
 * to disk, and a syntax error in the page is a start-up error rather than a blank tab.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export interface PageAssets {
  html: string;
  css: string;
  js: string;
}

/** The page sources: next to this module under tsx, or back in `src/` when running compiled output. */
function pageDirectory(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'page'), path.resolve(here, '../../../src/workspace/page')];
  const found = candidates.find((candidate) => existsSync(path.join(candidate, 'main.ts')));
  if (!found)
    throw new Error(`Cannot find the local workspace page sources (looked in ${candidates.join(', ')})`);
  return found;
}

export async function loadPageAssets(): Promise<PageAssets> {
  const directory = pageDirectory();
  const [html, css, bundle] = await Promise.all([
    readFile(path.join(directory, 'index.html'), 'utf8'),
    readFile(path.join(directory, 'style.css'), 'utf8'),
    build({
      entryPoints: [path.join(directory, 'main.ts')],
      bundle: true,
      write: false,
      format: 'esm',
      target: 'es2020',
      platform: 'browser',
      minify: false,
      sourcemap: 'inline',
      logLevel: 'silent',
    }),
  ]);
  const js = bundle.outputFiles[0]?.text;
  if (js === undefined) throw new Error('esbuild produced no bundle for the local workspace page');
  return { html, css, js };
}
