'use strict';
// A stand-in for MeshMonitor in the lab: the real image cannot be pulled here.
// It reproduces only what fail2ban depends on:
//   - the access logger (morgan to a rotating-file-stream, daily, 14 gzip files),
//   - the auth routes and the status codes they answer with,
//   - BASE_URL and TRUST_PROXY handling, and Express' default routing
//     (case-insensitive, trailing slash tolerated, query ignored).
const path = require('path');
const express = require('express');
const morgan = require('morgan');
const rfs = require('rotating-file-stream');
const rateLimit = require('express-rate-limit');

const env = process.env;
const PORT = parseInt(env.PORT || '3001', 10);
const BASE_URL = (env.BASE_URL || '').replace(/\/+$/, '');
const USERNAME = env.STANDIN_USERNAME || 'admin';
const PASSWORD = env.STANDIN_PASSWORD || 'changeme';
const MFA_CODE = env.STANDIN_MFA_CODE || '123456';
const LOCAL_AUTH_DISABLED = env.DISABLE_LOCAL_AUTH === 'true';

// Express' `trust proxy`: "true"/"false", a hop count, or addresses/subnets.
function parseTrustProxy(value) {
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return parseInt(value, 10);
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

const app = express();
app.set('trust proxy', parseTrustProxy(env.TRUST_PROXY));

// Health checks are not logged, as in MeshMonitor.
app.get(`${BASE_URL}/health`, (req, res) => res.json({ status: 'ok' }));

let accessLog = null;
if (env.ACCESS_LOG_ENABLED === 'true') {
  const logPath = env.ACCESS_LOG_PATH || '/data/logs/access.log';
  accessLog = rfs.createStream(path.basename(logPath), {
    path: path.dirname(logPath),
    interval: '1d',
    maxFiles: 14,
    compress: 'gzip',
  });
  accessLog.on('error', (err) => console.error('access log:', err.message));
  app.use(morgan(env.ACCESS_LOG_FORMAT || 'combined', { stream: accessLog }));
  // Lab hook: `docker kill -s USR2` forces the daily rotation now.
  process.on('SIGUSR2', () => accessLog.rotate());
}

// MeshMonitor's login limiter: 5 failed attempts per 15 minutes, then 429.
const authLimiter = rateLimit({
  windowMs: parseInt(env.STANDIN_AUTH_WINDOW_MS || String(15 * 60 * 1000), 10),
  limit: parseInt(env.STANDIN_AUTH_MAX || '5', 10),
  skipSuccessfulRequests: true,
  standardHeaders: true,
  legacyHeaders: false,
  message: { error: 'Too many login attempts, please try again later' },
});

const api = express.Router();
api.use(express.json());

api.post('/auth/login', authLimiter, (req, res) => {
  const { username, password } = req.body || {};
  if (!username || !password) {
    return res.status(400).json({ error: 'Username and password are required' });
  }
  if (LOCAL_AUTH_DISABLED) {
    return res.status(403).json({ error: 'Local authentication is disabled' });
  }
  if (username !== USERNAME || password !== PASSWORD) {
    return res.status(401).json({ error: 'Invalid username or password' });
  }
  return res.json({ success: true, user: { username } });
});

api.post('/auth/verify-mfa', authLimiter, (req, res) => {
  const { code } = req.body || {};
  if (code !== MFA_CODE) {
    return res.status(401).json({ error: 'Invalid verification code' });
  }
  return res.json({ success: true });
});

api.post('/auth/logout', (req, res) => res.json({ success: true }));
api.get('/auth/status', (req, res) => res.json({ authenticated: false }));
api.get('/nodes', (req, res) => res.json([]));

app.use(`${BASE_URL}/api`, api);
app.get(`${BASE_URL}/`, (req, res) => res.type('html').send('<h1>MeshMonitor (lab stand-in)</h1>'));
app.use((req, res) => res.status(404).json({ error: 'Not found' }));

const server = app.listen(PORT, () => {
  console.log(`meshmonitor stand-in on :${PORT}${BASE_URL || '/'}`);
});

function shutdown() {
  server.close(() => (accessLog ? accessLog.end(() => process.exit(0)) : process.exit(0)));
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
