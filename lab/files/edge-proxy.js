// A reverse proxy in a container, as nginx, Caddy or Traefik would be in a user's compose setup:
// HTTP on 8080 and 8443 (published as 80 and 443) to MeshMonitor on the compose network, appending
// the client to X-Forwarded-For; 8443/udp answers each datagram, standing for HTTP/3 (QUIC) on 443/udp.
// The container ports differ from the published ones on purpose: bans must hook on the container's.
// With CF_RANGES (comma-separated networks standing for Cloudflare's), it does what the README asks
// of a proxy behind Cloudflare (nginx: set_real_ip_from <each range>; real_ip_header
// CF-Connecting-IP; proxy_set_header X-Forwarded-For $remote_addr): the client is CF-Connecting-IP
// when the peer is in those ranges, else the peer, and X-Forwarded-For is that address alone.
// With TLS_DIR (the Cloudflare part of the lab), it reads TLS_DIR/mode at start: absent or "plain", as
// above; else the name of a CA file in TLS_DIR, and it does what a proxy demanding Authenticated
// Origin Pulls does (nginx: ssl_verify_client on; ssl_client_certificate <that CA>): HTTPS on the
// second port with TLS_DIR/server.pem and server.key, serving only clients whose certificate that CA
// signed, and on the first port nothing but a redirect to HTTPS.
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const path = require('path');
const dgram = require('dgram');
const net = require('net');

const cloudflare = process.env.CF_RANGES ? new net.BlockList() : null;
for (const range of (process.env.CF_RANGES || '').split(',').filter(Boolean)) {
  const [address, prefix] = range.split('/');
  cloudflare.addSubnet(address, Number(prefix), net.isIPv6(address) ? 'ipv6' : 'ipv4');
}

function forwardedFor(req, peer) {
  if (!cloudflare) return req.headers['x-forwarded-for'] ? req.headers['x-forwarded-for'] + ', ' + peer : peer;
  const connecting = req.headers['cf-connecting-ip'];
  const fromCloudflare = cloudflare.check(peer, net.isIPv6(peer) ? 'ipv6' : 'ipv4');
  return fromCloudflare && net.isIP(connecting || '') ? connecting : peer;
}

const upstream = new URL(process.env.UPSTREAM || 'http://meshmonitor:3001');
const agent = new http.Agent({ keepAlive: true });

function handle(req, res) {
  const peer = req.socket.remoteAddress.replace(/^::ffff:/, '');
  const headers = { ...req.headers, 'x-forwarded-for': forwardedFor(req, peer) };
  delete headers['cf-connecting-ip'];
  delete headers.authorization; // as the README advises for proxies: MeshMonitor uses no Basic credentials
  const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, (up) => {
    res.writeHead(up.statusCode, up.headers);
    up.pipe(res);
  });
  out.on('error', () => { res.writeHead(502); res.end('bad gateway\n'); });
  req.pipe(out);
}

// HTTP on both ports (LISTEN_PORTS, default 8080,8443), HTTP/3's stand-in (a UDP echo) on the second.
const ports = (process.env.LISTEN_PORTS || '8080,8443').split(',').map(Number);
const tlsDir = process.env.TLS_DIR;
const modeFile = tlsDir ? path.join(tlsDir, 'mode') : null;
const clientCa = modeFile && fs.existsSync(modeFile) ? fs.readFileSync(modeFile, 'utf8').trim() : 'plain';
function redirect(req, res) {
  res.writeHead(301, { Location: 'https://' + (req.headers.host || 'localhost').replace(/:\d+$/, '') + req.url });
  res.end();
}
ports.forEach((port, index) => {
  if (clientCa === 'plain') {
    http.createServer(handle).listen(port, '::');
  } else if (index < ports.length - 1) {
    http.createServer(redirect).listen(port, '::');
  } else {
    const file = (name) => fs.readFileSync(path.join(tlsDir, name));
    https.createServer({ key: file('server.key'), cert: file('server.pem'), ca: file(clientCa),
      requestCert: true, rejectUnauthorized: true }, handle).listen(port, '::');
  }
});

const quic = dgram.createSocket({ type: 'udp6', ipv6Only: false });
quic.on('message', (msg, from) => quic.send(msg, from.port, from.address));
quic.bind(ports[ports.length - 1], '::');
