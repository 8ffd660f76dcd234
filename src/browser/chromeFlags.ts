// Chrome's command line, with the reason for each flag. Everything here was needed on a
// closed-network Debian host running as root or as a hardened systemd user.

/**
 * V8's ordinary full garbage collection, offered to pages under this name (not `gc`, which
 * a page might look for): the session runs it on about:blank between renders
 * (browser/session.ts reset). Nothing but a GC can be done with it.
 */
export const GC_FUNCTION = '__panelshotGc';

export function chromeFlags(extra: string[]): string[] {
  // Chrome reads one --js-flags (the last): V8 flags given in CHROME_ARGS join ours.
  const jsFlags = [`--expose-gc-as=${GC_FUNCTION}`, ...extra.filter((f) => f.startsWith('--js-flags=')).map((f) => f.slice('--js-flags='.length))];
  return [
    // For a full chromium (CHROME_BIN); chromium-headless-shell, the default, is headless anyway.
    '--headless=new',
    // Root (and many containers) cannot use Chrome's sandbox; systemd's hardening replaces it.
    '--no-sandbox',
    '--disable-gpu',
    // /dev/shm is tiny in containers and under systemd PrivateTmp setups.
    '--disable-dev-shm-usage',
    '--no-first-run',
    '--no-default-browser-check',
    // Without these Chrome keeps calling home and stalls on a closed network.
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-default-apps',
    '--disable-extensions',
    '--metrics-recording-only',
    // Not --disable-crashpad-for-testing: with it, Chrome 156's network service never
    // answers (Network.setCookie hangs). crashpad leaves Chrome's process group, but it
    // exits by itself when the Chrome it watches dies.
    '--disable-breakpad',
    // Renders must not be throttled because "nobody looks" at a headless tab.
    '--disable-background-timer-throttling',
    '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows',
    // A page kept in the back/forward cache would hold a previous render in memory.
    '--disable-back-forward-cache',
    // SpareRendererForSitePerProcess: no renderer kept spare for the next new site (our
    // tabs are long-lived). WebUIOmniboxPopup/WebUIOmniboxAimPopup: since Chromium 151 every
    // window pre-renders the address-bar popup in a renderer of its own (~25-75 MiB), even
    // headless, and each session here is a window.
    '--disable-features=SpareRendererForSitePerProcess,WebUIOmniboxPopup,WebUIOmniboxAimPopup',
    // The network service in the browser process instead of a utility process of its own:
    // ~30 MiB PSS less at idle and at peak (docs/adr/0011-peak-memory.md). A crash of it
    // now takes the browser along, which the pool handles like any Chrome crash.
    '--enable-features=NetworkServiceInProcess2',
    '--hide-scrollbars',
    '--mute-audio',
    '--force-color-profile=srgb',
    '--font-render-hinting=none',
    '--password-store=basic',
    '--use-mock-keychain',
    // The GC between renders without dropping compiled code (GC_FUNCTION).
    `--js-flags=${jsFlags.join(' ')}`,
    ...extra.filter((f) => !f.startsWith('--js-flags=')),
  ];
}
