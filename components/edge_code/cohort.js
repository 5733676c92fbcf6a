
// Cohort helpers shared by the router (viewer-request) and the visitor cookie (viewer-response).
var NEW = 'new';
var LEGACY = 'legacy';
var LEGACY_ORIGIN_ID = 'legacy';
var COHORT_HEADER = 'x-mumble-cohort';
var OVERRIDE_HEADER = 'x-mumble-cohort-override';
var OVERRIDE_COOKIE = 'mumble-cohort';
var VISITOR_COOKIE = 'mumble-vid';
var ROUTER_COOKIES = [VISITOR_COOKIE, OVERRIDE_COOKIE];  // the router's own; never part of a cache key
var SUBJECT = /^[uv]:[A-Za-z0-9_.:@-]{1,128}$/;

// The subject a request is routed by: the bearer token's user (decoded, not verified: routing is not
// authorization), else the visitor-id cookie, else the client IP and user agent. A token's legacy id
// (`custom:userId` on the new stack) is preferred to `sub`, so one user hashes the same on both stacks.
function routingSubject(request, viewer) {
  return tokenSubject(request.headers && request.headers.authorization) || cookieSubject(request) ||
    'v:' + fnv1a((viewer && viewer.ip) + '|' + headerValue(request, 'user-agent'));
}

function tokenSubject(header) {
  var match = header && /^Bearer\s+[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\./i.exec(header.value);
  if (!match) {
    return null;
  }
  try {
    var base64 = match[1].replace(/-/g, '+').replace(/_/g, '/');
    var claims = JSON.parse(Buffer.from(base64, 'base64').toString('utf8'));
    var id = claims['custom:userId'] || claims.userId || claims.sub;
    var subject = typeof id === 'string' ? 'u:' + id : null;
    return subject && SUBJECT.test(subject) ? subject : null;
  } catch (e) {
    return null;
  }
}

function cookieSubject(request) {
  var cookie = request.cookies && request.cookies[VISITOR_COOKIE];
  return cookie && SUBJECT.test(cookie.value) ? cookie.value : null;
}

function overrideCohort(request) {
  var cookie = request.cookies && request.cookies[OVERRIDE_COOKIE];
  var value = headerValue(request, OVERRIDE_HEADER) || (cookie && cookie.value);
  return value === NEW || value === LEGACY ? value : null;
}

function headerValue(request, name) {
  var header = request.headers && request.headers[name];
  return header ? header.value : '';
}

// A stable bucket in [0, 100) for a subject under a salt (changing the salt reshuffles everyone).
function bucketOf(salt, subject) {
  return parseInt(fnv1a(salt + '|' + subject), 16) % 100;
}

// 32-bit FNV-1a as 8 hex digits; the multiply by the FNV prime is spelled as shifts to stay in 32 bits.
function fnv1a(text) {
  var hash = 0x811c9dc5;
  for (var i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = (hash + (hash << 1) + (hash << 4) + (hash << 7) + (hash << 8) + (hash << 24)) >>> 0;
  }
  return ('0000000' + hash.toString(16)).slice(-8);
}
