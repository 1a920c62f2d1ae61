// Lab: Node as on a kernel with IPv6 switched off. Preloaded through NODE_OPTIONS, it makes a
// listen() without a host take 0.0.0.0, as Node does when it cannot open an IPv6 socket: IPv4
// clients are then seen, and logged, as a.b.c.d instead of ::ffff:a.b.c.d.
'use strict';
const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && (args.length === 1 || typeof args[1] === 'function')) args.splice(1, 0, '0.0.0.0');
  return listen.apply(this, args);
};
