// The DevTools client's answer to a peer that goes silent without closing: the real case is
// a Selenium Grid hub that keeps our se:cdp websocket open after the node behind it died
// (test/grid-hub.test.ts kills a node for real). Here the peer is a websocket server on
// loopback that we control, since "Chrome stops answering without closing" cannot be had
// from a real Chrome on demand.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { CdpSocket, SILENCE } from '../src/browser/cdpSocket';

describe('a DevTools connection that goes silent', () => {
  let server: WebSocketServer;
  let url: string;
  /** What the peer answers: 'all', 'browser' (Browser.getVersion only: a busy page), or 'none'. */
  let answers: 'all' | 'browser' | 'none' = 'all';
  const saved = { ...SILENCE };
  before(async () => {
    Object.assign(SILENCE, { afterMs: 300, probeMs: 400 });
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => server.once('listening', () => r()));
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('connection', (ws: WebSocket) => {
      ws.on('message', (raw) => {
        const { id, method } = JSON.parse(String(raw)) as { id: number; method: string };
        if (answers === 'all' || (answers === 'browser' && method === 'Browser.getVersion')) ws.send(JSON.stringify({ id, result: {} }));
      });
    });
  });
  after(async () => {
    Object.assign(SILENCE, saved);
    await new Promise((r) => server.close(r));
  });

  test('a peer that answers nothing at all is given up soon after the probe, not at the command\'s own timeout', async () => {
    answers = 'none';
    const socket = await CdpSocket.open(url);
    const closed = new Promise<void>((r) => socket.onClose(r));
    const t0 = Date.now();
    await assert.rejects(socket.send('Runtime.evaluate', { expression: '1' }, 'tab', 30_000), /DevTools connection lost: no answer for \d+ ms, not even to Browser.getVersion/);
    const took = Date.now() - t0;
    // Silence noticed after afterMs (checked every afterMs/4), then probeMs for the probe.
    assert.ok(took >= SILENCE.afterMs + SILENCE.probeMs && took < 30_000 / 2, `gave up after ${took} ms`);
    await closed;
    assert.equal(socket.closed, true);
  });

  test('a peer whose page is busy but whose browser answers is waited for (the command\'s own timeout decides)', async () => {
    answers = 'browser';
    const socket = await CdpSocket.open(url);
    const t0 = Date.now();
    await assert.rejects(socket.send('Runtime.evaluate', { expression: '1' }, 'tab', 2000), /DevTools Runtime.evaluate took longer than 2000 ms/);
    assert.ok(Date.now() - t0 >= 2000);
    assert.equal(socket.closed, false, 'still open: the browser kept answering the probes');
    socket.close();
  });

  test('a peer that answers is never probed into failure', async () => {
    answers = 'all';
    const socket = await CdpSocket.open(url);
    for (let i = 0; i < 5; i++) assert.deepEqual(await socket.send('Runtime.evaluate', { expression: '1' }, 'tab'), {});
    socket.close();
  });
});
