'use strict';
// A stand-in for MeshMonitor in the lab: the real image cannot be pulled here. It behaves as
// MeshMonitor 4.15.1 does (read from its source: server.ts, middleware/, routes/authRoutes.ts,
// routes/v1, routes/mfaRoutes.ts, staticServing.ts, docker/) in what the roles, the filter and the
// tests touch, with the same middleware in the same order and the same package versions:
//   - CORS first: a request whose Origin is not in ALLOWED_ORIGINS (default the two localhost
//     origins) gets a 500 from the error handler, before the access logger, so it is never logged;
//   - the access logger: morgan to a rotating file (daily, 14 gzip files); skipped only when the
//     whole request URL is exactly /health and the answer is 200 (any method; a query, or BASE_URL,
//     and it is logged);
//   - JSON and form bodies; express-session (cookie meshmonitor.sid, Secure with COOKIE_SECURE, so
//     never set over plain HTTP then); a CSRF token in every session;
//   - ${BASE_URL}/api: the general limiter (RATE_LIMIT_API, 1000 per 15 min; private, loopback and
//     ULA clients exempt), then CSRF (POST/PUT/PATCH/DELETE need X-CSRF-Token or _csrf, 403; a
//     request whose Authorization starts with "Bearer " skips it), then the routes;
//   - the sign-in limiter (RATE_LIMIT_AUTH, 5 per 15 min): one bucket per client for login,
//     verify-mfa and, after the login check, POST /api/mfa/setup, verify-setup and disable;
//     failures counted, then 429; "unlimited", 0 and negative values switch a limiter off;
//   - routes needing a login accept a session or an API token ("Bearer ", case-sensitive);
//     /api/v1 (with or without a slash) needs an API token, /api/v1/docs is public;
//   - the admin account is created with the password "changeme" at the first start and kept in
//     /data; check-default-password, change-password and check-config-issues answer as 4.15.1;
//   - static/SPA serving: without BASE_URL any method on a path not starting with /api answers
//     200; with BASE_URL only paths under it do;
//   - the image: it listens on 3001 whatever PORT says (supervisord sets PORT=3001), on ::
//     (IPv4 clients are ::ffff:a.b.c.d); started as root, it runs `chown -R` on /data (the
//     bind-mounted log directory included) and drops to PUID:PGID (default 1000:1000).
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const express = require('express');
const cors = require('cors');
const session = require('express-session');
const morgan = require('morgan');
const rfs = require('rotating-file-stream');
const { rateLimit, ipKeyGenerator } = require('express-rate-limit');

const env = process.env;
// docker/supervisord.conf: environment=NODE_ENV="production",PORT="3001".
const PORT = 3001;
const BASE_URL = normaliseBaseUrl(env.BASE_URL || '');
const DATA_DIR = '/data';
const USERS_FILE = path.join(DATA_DIR, 'standin-users.json');
const DEFAULT_PASSWORD = 'changeme';
// This user has MFA on: the right password leaves an MFA login pending for the session.
const MFA_USERNAME = 'mfa-admin';
const MFA_PASSWORD = env.STANDIN_MFA_PASSWORD || 'mfa-lab-password';
const MFA_CODE = env.STANDIN_MFA_CODE || '123456';
const BACKUP_CODE = env.STANDIN_BACKUP_CODE || 'backup-0001';
const API_TOKEN = env.STANDIN_API_TOKEN || 'mm_v1_labtoken';
const LOCAL_AUTH_DISABLED = parseBoolean(env.DISABLE_LOCAL_AUTH, false);
const COOKIE_SECURE = parseBoolean(env.COOKIE_SECURE, false);
const ALLOWED_ORIGINS_PROVIDED = env.ALLOWED_ORIGINS !== undefined;
const ALLOWED_ORIGINS = env.ALLOWED_ORIGINS
  ? env.ALLOWED_ORIGINS.split(',').map((o) => o.trim()).filter((o) => o.length > 0)
  : ['http://localhost:8080', 'http://localhost:3001'];
const WINDOW_MS = 15 * 60 * 1000;
const RATE_LIMIT_AUTH = parseRateLimit(env.RATE_LIMIT_AUTH, 5);
const RATE_LIMIT_API = parseRateLimit(env.RATE_LIMIT_API, 1000);

function normaliseBaseUrl(value) {
  if (!value) return '';
  const withSlash = value.startsWith('/') ? value : '/' + value;
  return withSlash.endsWith('/') ? withSlash.slice(0, -1) : withSlash;
}

function parseBoolean(value, fallback) {
  const text = (value || '').trim().toLowerCase();
  return text === 'true' ? true : text === 'false' ? false : fallback;
}

// environment.ts parseRateLimit: "unlimited", 0 or negative mean off (0); not a number, the default.
function parseRateLimit(value, fallback) {
  if (value === undefined) return fallback;
  const text = value.trim();
  if (text.toLowerCase() === 'unlimited') return 0;
  const parsed = parseInt(text, 10);
  if (Number.isNaN(parsed)) return fallback;
  return parsed <= 0 ? 0 : parsed;
}

// Express' `trust proxy`: true/false (any case), a hop count, or addresses/subnets.
function parseTrustProxy(value) {
  const text = (value || '').trim();
  if (text === '' || text.toLowerCase() === 'false') return false;
  if (text.toLowerCase() === 'true') return true;
  if (/^\d+$/.test(text)) return parseInt(text, 10);
  return text;
}

// docker-entrypoint.sh, as root: `chown -R node:node /data`, then su-exec to PUID:PGID.
if (process.getuid && process.getuid() === 0) {
  const uid = parseInt(env.PUID || '1000', 10);
  const gid = parseInt(env.PGID || '1000', 10);
  fs.mkdirSync(path.join(DATA_DIR, 'logs'), { recursive: true });
  execFileSync('chown', ['-R', `${uid}:${gid}`, DATA_DIR]);
  process.setgroups([gid]);
  process.setgid(gid);
  process.setuid(uid);
}

// Users, kept in /data as MeshMonitor keeps them in its database: the first start creates admin
// with the default password.
const hashPassword = (password, salt = crypto.randomBytes(16).toString('hex')) =>
  `${salt}:${crypto.scryptSync(password, salt, 32).toString('hex')}`;
const passwordMatches = (password, stored) => {
  const [salt] = stored.split(':');
  return crypto.timingSafeEqual(Buffer.from(hashPassword(password, salt)), Buffer.from(stored));
};
function loadUsers() {
  try {
    return JSON.parse(fs.readFileSync(USERS_FILE, 'utf8'));
  } catch (err) {
    const users = { admin: { passwordHash: hashPassword(DEFAULT_PASSWORD) } };
    saveUsers(users);
    return users;
  }
}
function saveUsers(users) {
  fs.writeFileSync(USERS_FILE + '.tmp', JSON.stringify(users), { mode: 0o600 });
  fs.renameSync(USERS_FILE + '.tmp', USERS_FILE);
}
const users = loadUsers();
const authenticateLocal = (username, password) =>
  (username === MFA_USERNAME && password === MFA_PASSWORD) ||
  (users[username] !== undefined && passwordMatches(String(password), users[username].passwordHash));

const app = express();
app.set('trust proxy', parseTrustProxy(env.TRUST_PROXY));

app.use(cors({
  origin: (origin, callback) => {
    if (!origin || ALLOWED_ORIGINS.includes(origin) || ALLOWED_ORIGINS.includes('*')) return callback(null, true);
    return callback(new Error('Not allowed by CORS'));
  },
  credentials: true,
  optionsSuccessStatus: 200,
  allowedHeaders: ['Content-Type', 'X-CSRF-Token', 'Authorization'],
}));

let accessLog = null;
if (parseBoolean(env.ACCESS_LOG_ENABLED, false)) {
  const logPath = env.ACCESS_LOG_PATH || '/data/logs/access.log';
  accessLog = rfs.createStream(path.basename(logPath), {
    path: path.dirname(logPath), interval: '1d', maxFiles: 14, compress: 'gzip',
  });
  accessLog.on('error', (err) => console.error('access log:', err.message));
  app.use(morgan(env.ACCESS_LOG_FORMAT || 'combined', {
    stream: accessLog,
    skip: (req, res) => req.url === '/health' && res.statusCode === 200,
  }));
  // Lab hook: SIGUSR2 forces the daily rotation now.
  process.on('SIGUSR2', () => accessLog.rotate());
}

app.use(express.json({ limit: '10mb' }));
app.use(express.urlencoded({ limit: '10mb', extended: true, parameterLimit: 1000 }));
app.use(session({
  secret: env.SESSION_SECRET || crypto.randomBytes(32).toString('hex'),
  resave: false,
  saveUninitialized: false,
  name: 'meshmonitor.sid',
  cookie: { httpOnly: true, secure: COOKIE_SECURE, sameSite: 'lax', maxAge: 24 * 3600 * 1000 },
}));
app.use((req, res, next) => {
  if (!req.session.csrfToken) req.session.csrfToken = crypto.randomBytes(32).toString('hex');
  next();
});

function csrfProtection(req, res, next) {
  if (!['POST', 'PUT', 'DELETE', 'PATCH'].includes(req.method)) return next();
  if ((req.headers.authorization || '').startsWith('Bearer ')) return next();
  if (req.path === '/csrf-token' || req.path === '/auth/status') return next();
  const token = req.headers['x-csrf-token'] || (req.body && req.body._csrf);
  if (!token) {
    return res.status(403).json({ error: 'CSRF token required. Please refresh the page and try again.', code: 'CSRF_TOKEN_REQUIRED' });
  }
  const expected = Buffer.from(req.session.csrfToken);
  const given = Buffer.from(String(token));
  if (expected.length !== given.length || !crypto.timingSafeEqual(expected, given)) {
    return res.status(403).json({ error: 'Invalid CSRF token. Please refresh the page and try again.', code: 'CSRF_TOKEN_INVALID' });
  }
  return next();
}

const bearerToken = (req) => {
  const header = req.headers.authorization || '';
  return header.startsWith('Bearer ') ? header.substring(7) : null;
};

// A session, or an API token (authMiddleware.ts requireAuth).
function requireAuth(req, res, next) {
  if (req.session.userId) return next();
  if (bearerToken(req) === API_TOKEN) {
    req.apiTokenUser = 'admin';
    return next();
  }
  return res.status(401).json({ error: 'Authentication required', code: 'UNAUTHORIZED' });
}

function requireAPIToken(req, res, next) {
  const token = bearerToken(req);
  if (token === null) {
    return res.status(401).json({ error: 'Unauthorized', message: 'API token required. Use Authorization: Bearer <token>' });
  }
  if (token !== API_TOKEN) return res.status(401).json({ error: 'Unauthorized', message: 'Invalid or expired API token' });
  return next();
}

const isPrivate = (ip) => /^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|::1$|f[cd])/i.test(ip.replace(/^::ffff:/, ''));
const clientKey = (req) => ipKeyGenerator((req.ip || '').replace(/^::ffff:/, ''));
const limiterDefaults = { windowMs: WINDOW_MS, standardHeaders: true, legacyHeaders: false, validate: false, keyGenerator: clientKey };

const apiLimiter = rateLimit({
  ...limiterDefaults,
  max: RATE_LIMIT_API,
  skip: (req) => RATE_LIMIT_API === 0 || isPrivate(req.ip || ''),
  handler: (req, res) => res.status(429).json({ error: 'Too many requests from this IP, please try again later', retryAfter: '15 minutes' }),
});
const authLimiter = rateLimit({
  ...limiterDefaults,
  max: RATE_LIMIT_AUTH,
  skipSuccessfulRequests: true,
  handler: (req, res) => {
    const reset = Number(res.getHeader('RateLimit-Reset')) || WINDOW_MS / 1000;
    res.setHeader('Retry-After', reset);
    res.status(429).json({
      error: 'Too many login attempts, please try again later', code: 'AUTH_RATE_LIMITED', retryAfter: '15 minutes', retryAfterSeconds: reset,
    });
  },
  ...(RATE_LIMIT_AUTH === 0 ? { skip: () => true } : {}),
});

function signIn(req, res, username) {
  const { csrfToken } = req.session;
  req.session.regenerate((err) => {
    if (err) return res.status(500).json({ error: 'Internal server error' });
    req.session.csrfToken = csrfToken;
    req.session.userId = username;
    return res.json({ success: true, user: { username } });
  });
}

const api = express.Router();
api.get('/csrf-token', (req, res) => res.json({ csrfToken: req.session.csrfToken }));
// A router of its own, as upstream's: inside it the request URL is "/", so the logger's /health
// skip never applies to ${BASE_URL}/api/health.
const health = express.Router();
health.get('/', (req, res) => res.json({ status: 'ok' }));
api.use('/health', health);

const auth = express.Router();
auth.get('/status', (req, res) => res.json({ authenticated: Boolean(req.session.userId), localAuthDisabled: LOCAL_AUTH_DISABLED }));
auth.get('/check-default-password', (req, res) =>
  res.json({ isDefaultPassword: users.admin !== undefined && passwordMatches(DEFAULT_PASSWORD, users.admin.passwordHash) }));
auth.get('/check-config-issues', (req, res) => {
  const issues = [];
  const https = req.protocol === 'https' || req.get('x-forwarded-proto') === 'https';
  const docsUrl = 'https://meshmonitor.org/faq.html#i-see-a-blank-white-screen-when-accessing-meshmonitor';
  if (COOKIE_SECURE && !https) {
    issues.push({ type: 'cookie_secure', severity: 'error', docsUrl,
      message: 'Secure cookies are enabled but you are accessing via HTTP. Session cookies will not work. Set COOKIE_SECURE=false or access via HTTPS.' });
  }
  if (!COOKIE_SECURE && https) {
    issues.push({ type: 'cookie_secure', severity: 'warning', docsUrl,
      message: 'You are accessing via HTTPS but secure cookies are disabled (COOKIE_SECURE=false). For better security, set COOKIE_SECURE=true.' });
  }
  const current = req.get('origin') || req.get('referer');
  if (current) {
    try {
      const origin = new URL(current).origin;
      if (!ALLOWED_ORIGINS.includes(origin) && !ALLOWED_ORIGINS.includes('*') && ALLOWED_ORIGINS_PROVIDED) {
        issues.push({ type: 'allowed_origins', severity: 'error', docsUrl,
          message: `Your current origin (${origin}) is not in ALLOWED_ORIGINS. CORS will block authentication. Add ${origin} to ALLOWED_ORIGINS.` });
      }
    } catch (err) { /* not a URL: skipped, as upstream */ }
  }
  res.json({ issues });
});
auth.post('/login', authLimiter, (req, res) => {
  if (LOCAL_AUTH_DISABLED) return res.status(403).json({ error: 'Local authentication is disabled. Please use OIDC to login.' });
  const { username, password } = req.body || {};
  if (!username || !password) return res.status(400).json({ error: 'Username and password are required' });
  if (!authenticateLocal(username, password)) return res.status(401).json({ error: 'Invalid username or password' });
  if (username === MFA_USERNAME) {
    req.session.pendingMfaUserId = username;
    return res.json({ requireMfa: true, userId: 2 });
  }
  return signIn(req, res, username);
});
auth.post('/logout', (req, res) => req.session.destroy(() => res.json({ success: true })));
auth.post('/verify-mfa', authLimiter, (req, res) => {
  if (!req.session.pendingMfaUserId) return res.status(400).json({ error: 'No pending MFA verification' });
  const { token, backupCode } = req.body || {};
  if (!token && !backupCode) return res.status(400).json({ error: 'A TOTP code or backup code is required' });
  if ((token && token !== MFA_CODE) || (!token && backupCode !== BACKUP_CODE)) return res.status(401).json({ error: 'Invalid code' });
  delete req.session.pendingMfaUserId;
  return signIn(req, res, MFA_USERNAME);
});
auth.post('/change-password', requireAuth, (req, res) => {
  const { currentPassword, newPassword } = req.body || {};
  if (!currentPassword || !newPassword) return res.status(400).json({ error: 'Current password and new password are required' });
  const username = req.session.userId || req.apiTokenUser;
  if (!users[username]) return res.status(400).json({ error: 'Cannot change password for non-local user' });
  if (!passwordMatches(String(currentPassword), users[username].passwordHash)) {
    return res.status(400).json({ error: 'Current password is incorrect' });
  }
  if (String(newPassword).length < 8) return res.status(400).json({ error: 'New password must be at least 8 characters long' });
  users[username].passwordHash = hashPassword(String(newPassword));
  saveUsers(users);
  return res.json({ success: true, message: 'Password changed successfully' });
});
api.use('/auth', auth);

// mfaRoutes.ts: the login check first, then the sign-in limiter, on the three POSTs only.
const mfa = express.Router();
mfa.get('/status', requireAuth, (req, res) => res.json({ enabled: req.session.userId === MFA_USERNAME }));
for (const route of ['/setup', '/verify-setup']) {
  mfa.post(route, requireAuth, authLimiter, (req, res) => res.status(400).json({ error: 'MFA is already enabled' }));
}
mfa.post('/disable', requireAuth, authLimiter, (req, res) => {
  if (req.session.userId !== MFA_USERNAME) return res.status(400).json({ error: 'MFA is not enabled' });
  const { token, backupCode } = req.body || {};
  if (!token && !backupCode) return res.status(400).json({ error: 'A TOTP code or backup code is required to disable MFA' });
  if ((token && token !== MFA_CODE) || (!token && backupCode !== BACKUP_CODE)) return res.status(401).json({ error: 'Invalid code' });
  return res.json({ success: true });
});
api.use('/mfa', mfa);

api.get('/nodes', (req, res) => res.json([]));

// The v1 API: its docs are public, everything else takes an API token.
const v1 = express.Router();
v1.use('/docs', (req, res) => res.json({ openapi: '3.0.0' }));
v1.use(requireAPIToken);
v1.get('/', (req, res) => res.json({ version: 'v1' }));
v1.get('/sources', (req, res) => res.json({ success: true, data: [] }));
api.use('/v1', v1);

app.use(`${BASE_URL}/api`, apiLimiter, csrfProtection, api);

// staticServing.ts: the SPA answers every method on any path it serves.
const spa = (req, res) => res.type('html').send('<h1>MeshMonitor (lab stand-in)</h1>');
if (BASE_URL) {
  app.use((req, res, next) => {
    if (!req.path.startsWith(BASE_URL) || req.path.startsWith(`${BASE_URL}/api`) || /\.[a-zA-Z0-9]+$/.test(req.path)) return next();
    return spa(req, res);
  });
} else {
  app.use((req, res, next) => (req.path.startsWith('/api') ? next() : spa(req, res)));
}

app.use((err, req, res, next) => { // eslint-disable-line no-unused-vars
  if (err instanceof SyntaxError && 'body' in err) {
    return res.status(400).json({ error: 'Bad Request', message: 'Invalid JSON in request body. Please check your JSON syntax.' });
  }
  return res.status(500).json({ error: 'Internal server error', message: 'Something went wrong' });
});

const server = app.listen(PORT, () => {
  console.log(`meshmonitor stand-in on :${PORT}${BASE_URL || '/'}`);
});

function shutdown() {
  server.close(() => (accessLog ? accessLog.end(() => process.exit(0)) : process.exit(0)));
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
