// Real mail and webhook endpoints on loopback for the delivery tests: an SMTP server
// (smtp-server) that offers STARTTLS with a throwaway CA and AUTH only after it, whose
// messages are parsed back with mailparser; and an HTTP receiver of webhook POSTs.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { freePort } from '../../src/browser/driver';

/** A throwaway CA and a certificate for 127.0.0.1 signed by it (openssl). */
export function makePki(dir: string): { ca: string; cert: string; key: string } {
  const f = (n: string) => path.join(dir, n);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=panelshot test mail CA']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  fs.writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('ext.cnf')]);
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}

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

