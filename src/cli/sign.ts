// `panelshot sign <url> [--width --height --scale --ttl 15m --format png|jpeg|webp --quality --timezone]`:
// prints exactly one line, a signed image link `<PUBLIC_URL>/i/<token>.<ext>`, from
// LINK_SECRET and PUBLIC_URL in the environment or ./.env.
import { loadConfig } from '../config';
import { PanelshotError } from '../errors';
import { parseRenderParams } from '../http/renderParams';
import { secretParams } from '../logger';
import { extensionOf } from '../render/encode';
import { parseDuration, signLink, type LinkParams } from '../links/token';
import { intFlag, parseFlags, UsageError } from './args';

export const SIGN_USAGE = 'panelshot sign <panel URL> [--width 1000] [--height 500] [--scale 1] [--ttl 15m] [--format png|jpeg|webp] [--quality 85] [--timezone Europe/Berlin]';

export function sign(argv: string[], env: NodeJS.ProcessEnv | undefined = undefined, now = Date.now()): string {
  const { values, positionals } = parseFlags(
    argv,
    { width: { type: 'string' }, height: { type: 'string' }, scale: { type: 'string' }, ttl: { type: 'string' }, format: { type: 'string' }, quality: { type: 'string' }, timezone: { type: 'string' } },
    1,
  );
  const url = positionals[0];
  if (!url) throw new UsageError(`a panel URL is required: ${SIGN_USAGE}`);
  const ttlS = parseDuration(values.ttl ?? '15m');
  if (ttlS === undefined || ttlS < 1) throw new UsageError(`--ttl must be a duration such as 90s, 15m, 2h or 7d, got "${String(values.ttl).slice(0, 40)}"`);
  intFlag('width', values.width, 1, 1_000_000);
  intFlag('height', values.height, 1, 1_000_000);
  const config = env ? loadConfig(env) : loadConfig();
  if (!config.linkSecrets.length) throw new UsageError('LINK_SECRET is not set (in the environment or ./.env): there is nothing to sign with');
  if (!config.publicUrl) throw new UsageError('PUBLIC_URL is not set: the external base URL of panelshot, BASE_PATH included (e.g. https://renderer.example.com/renderer)');
  if (ttlS > config.linkMaxTtlS) throw new UsageError(`--ttl ${values.ttl} is longer than LINK_MAX_TTL_S (${config.linkMaxTtlS} s)`);

  const params: LinkParams = { url, width: values.width, height: values.height, deviceScaleFactor: values.scale, encoding: values.format, quality: values.quality, timezone: values.timezone };
  let ext: string;
  try {
    // The same checks as /render: a link that would be refused is not signed.
    const req = parseRenderParams(params as Record<string, unknown>, undefined, config);
    const secret = secretParams(req.url);
    if (secret.length) throw new UsageError(`the URL carries ${secret.join(', ')}: links never carry credentials (panelshot renders with its own Grafana login)`);
    ext = extensionOf(req.output?.format ?? 'png');
    // Canonical values: what was checked is what is signed.
    params.url = req.url.toString();
  } catch (e) {
    if (e instanceof PanelshotError) throw new UsageError(asFlags(e.message));
    throw e;
  }
  const token = signLink(params, config.linkSecrets[0]!, Math.floor(now / 1000) + ttlS);
  return `${config.publicUrl}/i/${token}.${ext}`;
}

/** /render's parameter names in its messages, as this command's flags. */
function asFlags(msg: string): string {
  const names: Record<string, string> = { url: 'the URL', width: '--width', height: '--height', deviceScaleFactor: '--scale', quality: '--quality', timezone: '--timezone', 'encoding=': '--format ' };
  const m = /^(url|width|height|deviceScaleFactor|quality|timezone)\b|^encoding=/.exec(msg);
  return m ? names[m[0]]! + msg.slice(m[0].length) : msg;
}
