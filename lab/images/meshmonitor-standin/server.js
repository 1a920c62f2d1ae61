'use strict';
// A stand-in for MeshMonitor in the lab: the real image cannot be pulled here. It behaves as
// MeshMonitor 4.15 does (read from its source) in what the roles, the filter and the tests touch:
//   - Express 5 routing (case-insensitive, trailing slash tolerated, query ignored); the API only
//     under ${BASE_URL}/api, BASE_URL with a leading / added and one trailing / removed;
//   - the access logger: morgan to a rotating file (daily, 14 gzip files); only a root /health
//     answered 200 goes unlogged (GET ${BASE_URL}/api/health, the health check, is logged);
//   - CSRF: POST/PUT/PATCH/DELETE under /api without the session's X-CSRF-Token get 403 before any
//     rate limiter (GET /api/csrf-token hands it out); an Authorization: Bearer request skips it;
//   - limiters keyed on the client address with ::ffff: stripped: RATE_LIMIT_API (1000 per 15 min
//     over /api; private, loopback and ULA clients exempt) and RATE_LIMIT_AUTH (5 per 15 min, 0 = off),
//     one bucket per client shared by login, verify-mfa and /api/mfa/*, failures counted, then 429;
//   - the answers of login, verify-mfa, /api/mfa/disable and /api/v1/*;
//   - TRUST_PROXY: true/false in any case, a hop count, or addresses;
//   - it listens on :: (IPv4 clients are ::ffff:a.b.c.d); started as root, it gives /data to
//     PUID:PGID (default 1000:1000) and runs as that user.
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const express = require('express');
const morgan = require('morgan');
const rfs = require('rotating-file-stream');
const { rateLimit, ipKeyGenerator } = require('express-rate-limit');

const env = process.env;
const PORT = parseInt(env.PORT || '3001', 10);
const BASE_URL = normaliseBaseUrl(env.BASE_URL || '');
const USERNAME = env.STANDIN_USERNAME || 'admin';
const PASSWORD = env.STANDIN_PASSWORD || 'changeme';
// This user has MFA on: the right password leaves an MFA login pending for the session.
const MFA_USERNAME = env.STANDIN_MFA_USERNAME || 'mfa-admin';
const MFA_CODE = env.STANDIN_MFA_CODE || '123456';
const BACKUP_CODE = env.STANDIN_BACKUP_CODE || 'backup-0001';
const API_TOKEN = env.STANDIN_API_TOKEN || 'mm_v1_labtoken';
const LOCAL_AUTH_DISABLED = env.DISABLE_LOCAL_AUTH === 'true';
const WINDOW_MS = 15 * 60 * 1000;
const RATE_LIMIT_AUTH = limitFrom(env.RATE_LIMIT_AUTH, 5);
const RATE_LIMIT_API = limitFrom(env.RATE_LIMIT_API, 1000);

function normaliseBaseUrl(value) {
  if (!value) return '';
  const withSlash = value.startsWith('/') ? value : '/' + value;
  return withSlash.endsWith('/') ? withSlash.slice(0, -1) : withSlash;
}

function limitFrom(value, fallback) {
  return /^\d+$/.test(value || '') ? parseInt(value, 10) : fallback;
}

// Express' `trust proxy`: true/false (any case), a hop count, or addresses/subnets.
function parseTrustProxy(value) {
  const text = (value || '').trim();
  if (text === '' || text.toLowerCase() === 'false') return false;
  if (text.toLowerCase() === 'true') return true;
  if (/^\d+$/.test(text)) return parseInt(text, 10);
  return text.split(',').map((s) => s.trim()).filter(Boolean);
}

// Started as root: hand /data to PUID:PGID and drop to them before anything is opened.
if (process.getuid && process.getuid() === 0) {
  const uid = parseInt(env.PUID || '1000', 10);
  const gid = parseInt(env.PGID || '1000', 10);
  fs.chownSync('/data', uid, gid);
  process.setgroups([gid]);
  process.setgid(gid);
  process.setuid(uid);
}

const app = express();
app.set('trust proxy', parseTrustProxy(env.TRUST_PROXY));

let accessLog = null;
if (env.ACCESS_LOG_ENABLED === 'true') {
  const logPath = env.ACCESS_LOG_PATH || '/data/logs/access.log';
  accessLog = rfs.createStream(path.basename(logPath), {
    path: path.dirname(logPath), interval: '1d', maxFiles: 14, compress: 'gzip',
  });
  accessLog.on('error', (err) => console.error('access log:', err.message));
  const rootHealthOk = (req, res) => req.originalUrl.split('?')[0] === '/health' && res.statusCode === 200;
  app.use(morgan(env.ACCESS_LOG_FORMAT || 'combined', { stream: accessLog, skip: rootHealthOk }));
  // Lab hook: SIGUSR2 forces the daily rotation now.
  process.on('SIGUSR2', () => accessLog.rotate());
}
app.get('/health', (req, res) => res.json({ status: 'ok' }));

// Sessions in memory, by cookie: each holds its CSRF token and a pending MFA login.
const sessions = new Map();
function session(req, res, next) {
  const sid = /(?:^|;\s*)meshmonitor\.sid=([0-9a-f]{32})/.exec(req.headers.cookie || '');
  if (sid && sessions.has(sid[1])) {
    req.session = sessions.get(sid[1]);
  } else {
    const id = crypto.randomBytes(16).toString('hex');
    req.session = { csrfToken: crypto.randomBytes(32).toString('hex') };
    sessions.set(id, req.session);
    res.setHeader('Set-Cookie', `meshmonitor.sid=${id}; Path=/; HttpOnly; SameSite=Lax`);
  }
  next();
}

function csrfProtection(req, res, next) {
  if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(req.method)) return next();
  if (req.path === '/csrf-token' || req.path === '/auth/status') return next();
  if (/^Bearer /i.test(req.headers.authorization || '')) return next();
  const token = req.headers['x-csrf-token'] || (req.body && req.body._csrf);
  if (!token) return res.status(403).json({ error: 'CSRF token required. Please refresh the page and try again.' });
  const expected = Buffer.from(req.session.csrfToken);
  const given = Buffer.from(String(token));
  if (expected.length !== given.length || !crypto.timingSafeEqual(expected, given)) {
    return res.status(403).json({ error: 'Invalid CSRF token. Please refresh the page and try again.' });
  }
  return next();
}

const isPrivate = (ip) => /^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|::1$|f[cd])/i.test(ip);
const clientKey = (req) => ipKeyGenerator((req.ip || '').replace(/^::ffff:/, ''));
const limiterDefaults = { windowMs: WINDOW_MS, standardHeaders: true, legacyHeaders: false, validate: false, keyGenerator: clientKey };

const apiLimiter = rateLimit({
  ...limiterDefaults,
  limit: RATE_LIMIT_API,
  skip: (req) => RATE_LIMIT_API === 0 || isPrivate((req.ip || '').replace(/^::ffff:/, '')),
  handler: (req, res) => res.status(429).json({ error: 'Too many requests from this IP, please try again later' }),
});
const authLimiter = rateLimit({
  ...limiterDefaults,
  limit: RATE_LIMIT_AUTH,
  skipSuccessfulRequests: true,
  skip: () => RATE_LIMIT_AUTH === 0,
  handler: (req, res) => res.status(429).json({ error: 'Too many login attempts, please try again later', code: 'AUTH_RATE_LIMITED' }),
});

const api = express.Router();
api.use(express.json(), session, csrfProtection, apiLimiter);

api.get('/health', (req, res) => res.json({ status: 'ok' }));
api.get('/csrf-token', (req, res) => res.json({ csrfToken: req.session.csrfToken }));
api.get('/auth/status', (req, res) => res.json({ authenticated: Boolean(req.session.user) }));

api.post('/auth/login', authLimiter, (req, res) => {
  if (LOCAL_AUTH_DISABLED) return res.status(403).json({ error: 'Local authentication is disabled' });
  const { username, password } = req.body || {};
  if (!username || !password) return res.status(400).json({ error: 'Username and password are required' });
  if (password !== PASSWORD || ![USERNAME, MFA_USERNAME].includes(username)) {
    return res.status(401).json({ error: 'Invalid username or password' });
  }
  if (username === MFA_USERNAME) {
    req.session.pendingMfa = username;
    return res.json({ requireMfa: true });
  }
  req.session.user = username;
  return res.json({ success: true, user: { username } });
});

api.post('/auth/verify-mfa', authLimiter, (req, res) => {
  if (!req.session.pendingMfa) return res.status(400).json({ error: 'No pending MFA verification' });
  const { token, backupCode } = req.body || {};
  if (!token && !backupCode) return res.status(400).json({ error: 'Verification code is required' });
  if ((token && token !== MFA_CODE) || (!token && backupCode !== BACKUP_CODE)) {
    return res.status(401).json({ error: 'Invalid verification code' });
  }
  req.session.user = req.session.pendingMfa;
  delete req.session.pendingMfa;
  return res.json({ success: true });
});

api.use('/mfa', authLimiter);
api.post('/mfa/disable', (req, res) => {
  const { token } = req.body || {};
  if (token !== MFA_CODE) return res.status(401).json({ error: 'Invalid verification code' });
  return res.json({ success: true });
});

api.post('/auth/logout', (req, res) => {
  delete req.session.user;
  res.json({ success: true });
});
api.get('/nodes', (req, res) => res.json([]));

// The v1 API takes an API token instead of a session.
api.use('/v1', (req, res, next) => {
  const bearer = /^Bearer (\S+)$/i.exec(req.headers.authorization || '');
  if (!bearer || bearer[1] !== API_TOKEN) return res.status(401).json({ error: 'Invalid or missing API token' });
  return next();
});
api.get('/v1/nodes', (req, res) => res.json({ success: true, data: [] }));

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
