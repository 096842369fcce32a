// Build the page and the notebook widgets into the Python package: `npm run build`.
//
// Widgets: algobt/widgets/static/<widget>.js, one self-contained ES module per widget
// (anywidget's `_esm` cannot import sibling files), widgets.css, the same LICENSE and NOTICE
// and a build-info.json with the same source hash.
//
// Writes algobt/server/static/: app-<hash>.js and app-<hash>.css (minified, content-hashed
// names so the server may cache them for ever), index.html naming them, lightweight-charts'
// LICENSE and NOTICE, and build-info.json with a hash of the sources, which a test compares
// against the sources in the tree so a stale committed bundle fails CI.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'algobt', 'server', 'static');
const widgetsOut = join(here, '..', 'algobt', 'widgets', 'static');
/** The notebook widgets' entry points (frontend/widgets/<name>.js), one bundle each. */
export const WIDGETS = ['live_chart', 'result', 'compare', 'heatmap'];

/** Files whose content decides the bundle, in a fixed order (mirrored by the Python test). */
export function sourceFiles() {
  const walk = (dir) =>
    readdirSync(dir)
      .flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? walk(path) : [path];
      });
  const rel = (p) => relative(here, p).split('\\').join('/');
  const files = [...walk(join(here, 'src')), ...walk(join(here, 'vendor')), ...walk(join(here, 'widgets')), join(here, 'package-lock.json'), join(here, 'build.mjs'), join(here, 'index.html')];
  return files.map(rel).sort();
}

/** sha256 over "path\0content\0" of every source file: the same recipe as tests/web/test_bundle.py. */
export function sourceHash() {
  const h = createHash('sha256');
  for (const file of sourceFiles()) {
    h.update(file + '\0');
    h.update(readFileSync(join(here, file)).toString('utf8').replace(/\r\n/g, '\n'));
    h.update('\0');
  }
  return h.digest('hex');
}

async function build() {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const result = await esbuild.build({
    entryPoints: { app: join(here, 'src', 'main.js') },
    bundle: true,
    minify: !process.env.NOMIN, // NOMIN=1 node build.mjs: readable names for a profile
    format: 'esm',
    target: ['es2020'],
    outdir: out,
    entryNames: '[name]-[hash]',
    metafile: true,
    legalComments: 'eof',
    loader: { '.css': 'css' },
    logLevel: 'info',
  });
  const outputs = Object.keys(result.metafile.outputs).map((p) => relative(out, p));
  const js = outputs.find((p) => p.endsWith('.js'));
  const css = outputs.find((p) => p.endsWith('.css'));
  const html = readFileSync(join(here, 'index.html'), 'utf8')
    .replace('{{css}}', `/static/${css}`)
    .replace('{{js}}', `/static/${js}`);
  writeFileSync(join(out, 'index.html'), html);
  const lwc = join(here, 'node_modules', 'lightweight-charts');
  copyFileSync(join(lwc, 'LICENSE'), join(out, 'lightweight-charts.LICENSE'));
  // The npm package does not ship the NOTICE file of the upstream repository; it is kept here.
  copyFileSync(join(here, 'vendor', 'lightweight-charts.NOTICE'), join(out, 'lightweight-charts.NOTICE'));
  const lwcVersion = JSON.parse(readFileSync(join(lwc, 'package.json'), 'utf8')).version;
  const info = { source_hash: sourceHash(), files: sourceFiles(), js, css, 'lightweight-charts': lwcVersion };
  writeFileSync(join(out, 'build-info.json'), JSON.stringify(info, null, 2) + '\n');
  console.log(`built ${js}, ${css} (source hash ${info.source_hash.slice(0, 12)})`);
  await buildWidgets(info);
}

async function buildWidgets(pageInfo) {
  rmSync(widgetsOut, { recursive: true, force: true });
  mkdirSync(widgetsOut, { recursive: true });
  await esbuild.build({
    entryPoints: Object.fromEntries([
      ...WIDGETS.map((name) => [name, join(here, 'widgets', `${name}.js`)]),
      ['widgets', join(here, 'widgets', 'widgets.css')],
    ]),
    bundle: true,
    minify: !process.env.NOMIN, // NOMIN=1 node build.mjs: readable names for a profile
    format: 'esm',
    target: ['es2020'],
    outdir: widgetsOut,
    legalComments: 'eof',
    logLevel: 'info',
  });
  for (const name of ['LICENSE', 'NOTICE']) {
    copyFileSync(join(out, `lightweight-charts.${name}`), join(widgetsOut, `lightweight-charts.${name}`));
  }
  const info = {
    source_hash: pageInfo.source_hash,
    files: pageInfo.files,
    widgets: WIDGETS.map((name) => `${name}.js`),
    css: 'widgets.css',
    'lightweight-charts': pageInfo['lightweight-charts'],
  };
  writeFileSync(join(widgetsOut, 'build-info.json'), JSON.stringify(info, null, 2) + '\n');
  console.log(`built widgets ${info.widgets.join(', ')}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await build();
}
