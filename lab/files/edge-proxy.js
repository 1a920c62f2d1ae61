// A reverse proxy in a container, as nginx, Caddy or Traefik would be in a user's compose setup:
// HTTP on 8080 and 8443 (published as 80 and 443) to MeshMonitor on the compose network, appending
// the client to X-Forwarded-For; 8443/udp answers each datagram, standing for HTTP/3 (QUIC) on 443/udp.
// The container ports differ from the published ones on purpose: bans must hook on the container's.
'use strict';
const http = require('http');
const dgram = require('dgram');

const upstream = new URL(process.env.UPSTREAM || 'http://meshmonitor:3001');
const agent = new http.Agent({ keepAlive: true });

function handle(req, res) {
  const client = req.socket.remoteAddress.replace(/^::ffff:/, '');
  const forwarded = req.headers['x-forwarded-for'] ? req.headers['x-forwarded-for'] + ', ' + client : client;
  const headers = { ...req.headers, 'x-forwarded-for': forwarded };
  delete headers.authorization; // as the README advises for proxies: MeshMonitor uses no Basic credentials
  const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent }, (up) => {
    res.writeHead(up.statusCode, up.headers);
    up.pipe(res);
  });
  out.on('error', () => { res.writeHead(502); res.end('bad gateway\n'); });
  req.pipe(out);
}

for (const port of [8080, 8443]) http.createServer(handle).listen(port, '::');

const quic = dgram.createSocket({ type: 'udp6', ipv6Only: false });
quic.on('message', (msg, from) => quic.send(msg, from.port, from.address));
quic.bind(8443, '::');
