// Writes .env.example from the config table in src/config.ts, so the two cannot drift:
//   node --import tsx scripts/env-example.ts > .env.example
// test/config.test.ts fails when the committed file differs from this output.
import { describeKeys } from '../src/config';

export function envExample(): string {
  const lines = [
    '# panelshot configuration. Copy to .env (or /etc/panelshot/panelshot.env for systemd)',
    '# and set at least GRAFANA_URL and a way to log in. The environment wins over this file.',
    '# Generated from src/config.ts by scripts/env-example.ts: edit the table there, not here.',
    '',
  ];
  for (const k of describeKeys()) {
    lines.push(`# ${k.doc}${k.default !== undefined ? ` Default: ${k.default === '' ? '(empty)' : k.default}.` : ''}`);
    if (k.key === 'GRAFANA_URL') lines.push(`${k.key}=${k.example}`);
    else if (k.default !== undefined) lines.push(`#${k.key}=${k.default}`);
    else lines.push(`#${k.key}=${k.example ?? ''}`);
    lines.push('');
  }
  return lines.join('\n');
}

if (require.main === module) process.stdout.write(envExample());
