// Bundles the pages in src/ into dist/ (main.js, its chunks, main.css and the Inter fonts),
// which test/standin/grafana.ts serves under /public/build/gc/. Skips the work when dist/ is
// newer than the sources and the lock file. Run by scripts/setup.sh --test.
import { build } from 'esbuild';
import { readdirSync, statSync, existsSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
const stamp = join(out, 'main.js');
const inputs = [join(here, 'package-lock.json'), join(here, 'build.mjs'), ...readdirSync(join(here, 'src')).map((f) => join(here, 'src', f))];
if (existsSync(stamp) && inputs.every((f) => statSync(f).mtimeMs <= statSync(stamp).mtimeMs) && !process.argv.includes('--force')) {
  console.log('grafana-components: bundle up to date');
  process.exit(0);
}
rmSync(out, { recursive: true, force: true });

// @grafana/plugin-compat probes for host functions newer Grafana versions export
// (`import { getDataSourceInstance } from '@grafana/runtime'`) and falls back when they
// are undefined. Named imports of missing names are an error in an ESM bundle, so these
// probes read the module namespace instead.
const compatProbes = {
  name: 'plugin-compat-probes',
  setup(b) {
    b.onLoad({ filter: /@grafana[\\/]plugin-compat[\\/].*\.m?js$/ }, async (args) => {
      const fs = await import('node:fs/promises');
      let src = await fs.readFile(args.path, 'utf8');
      let n = 0;
      src = src.replace(/import \{([^}]*)\} from '(@grafana\/runtime(?:\/unstable)?)';/g, (_all, names, mod) => {
        const ns = `__ns${n++}`;
        const binds = names.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
          const [orig, alias] = s.split(/\s+as\s+/);
          return `const ${alias ?? orig} = ${ns}[${JSON.stringify(orig)}];`;
        });
        return `import * as ${ns} from '${mod}';\n${binds.join('\n')}`;
      });
      return { contents: src, loader: 'js' };
    });
  },
};

const t0 = Date.now();
await build({
  entryPoints: [join(here, 'src', 'main.tsx')],
  bundle: true,
  splitting: true,
  format: 'esm',
  outdir: out,
  minify: true,
  target: 'chrome120',
  jsx: 'automatic',
  loader: { '.woff2': 'file', '.ttf': 'file', '.woff': 'file', '.svg': 'file', '.png': 'file' },
  define: { 'process.env.NODE_ENV': '"production"', global: 'window' },
  logLevel: 'warning',
  plugins: [compatProbes],
});
console.log(`grafana-components: bundled in ${Date.now() - t0} ms`);
