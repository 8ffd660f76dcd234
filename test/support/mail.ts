// Real mail and webhook endpoints on loopback for the delivery tests: an SMTP server
// (smtp-server) that offers STARTTLS with a throwaway CA and AUTH only after it, whose
// messages are parsed back with mailparser; and an HTTP receiver of webhook POSTs.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { freePort } from '../../src/browser/driver';

export { makePki } from './pki';


export interface Received {
  mail: ParsedMail;
  secured: boolean;
  user?: string;
}

export async function startSmtp(pki: { cert: string; key: string }, user: string, pass: string): Promise<{ port: number; mails: Received[]; close(): Promise<void> }> {
  const mails: Received[] = [];
  const server = new SMTPServer({
    secure: false,
    key: fs.readFileSync(pki.key),
    cert: fs.readFileSync(pki.cert),
    authMethods: ['PLAIN', 'LOGIN'],
    // AUTH is refused before STARTTLS (allowInsecureAuth is false): a mail that arrives
    // authenticated came over TLS.
    onAuth(auth, _session, cb) {
      if (auth.username === user && auth.password === pass) cb(null, { user: auth.username });
      else cb(new Error('bad credentials'));
    },
    onData(stream, session, cb) {
      simpleParser(stream).then((mail) => {
        mails.push({ mail, secured: session.secure, user: session.user as string | undefined });
        cb();
      }, cb);
    },
    logger: false,
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { port, mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}

export async function startHookReceiver(): Promise<{ url: string; bodies: Record<string, unknown>[]; close(): Promise<void> }> {
  const bodies: Record<string, unknown>[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/hooks/abc' && /json/.test(req.headers['content-type'] ?? '')) bodies.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/abc`, bodies, close: () => new Promise<void>((r) => server.close(() => r())) };
}

