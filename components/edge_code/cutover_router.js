import cf from 'cloudfront';
// cloudfront-js-2.0, viewer-request on every behaviour of a stage with a legacy origin: the cutover router.
// Reads `weight` and `salt` from the KeyValueStore; a subject whose stable bucket in [0, 100) is below the weight
// is served by the new stack, everyone else by the `legacy` origin, so raising the weight only moves people to the
// new stack and lowering it only moves them back. The cohort goes into a request header that is part of the site's
// cache key (a cached answer never crosses cohorts) and that both backends can log. The helpers are appended from
// cohort.js and spa_uri.js.
//
// Precedence: a QA pin (the `mumble-cohort` cookie or the `x-mumble-cohort-override` header, `new` or `legacy`)
// decides alone, without reading the store, so a pin holds even while the store cannot be read; otherwise the
// store decides, and a store that cannot be read, or holds a weight outside the grammar below, sends everyone
// to legacy.
//
// The legacy cohort is passed through untouched: every method, cookie, query string and header reaches the legacy
// origin as the viewer sent it (the site behaviour allows every method and forwards everything; its cache policy
// caches only what an origin marks cacheable). New-cohort page requests are reduced to what the static site
// needs - GET/HEAD/OPTIONS, no query string, no cookie but the router's own (which the cache key leaves out) - so
// the site's cache key, and its hit ratio, stay what they were.
var WEIGHT = /^(100|[1-9][0-9]|[0-9])$/;
var SITE_METHODS = ['GET', 'HEAD', 'OPTIONS'];

async function handler(event) {
  var request = event.request;
  var cohort = overrideCohort(request);
  if (!cohort) {
    var split = await readSplit();
    cohort = split && bucketOf(split.salt, routingSubject(request, event.viewer)) < split.weight ? NEW : LEGACY;
  }
  request.headers[COHORT_HEADER] = { value: cohort };
  if (cohort === LEGACY) {
    cf.selectRequestOriginById(LEGACY_ORIGIN_ID);
  } else if (request.uri.indexOf('/api/') !== 0) {
    if (SITE_METHODS.indexOf(request.method) < 0) {
      return { statusCode: 405, statusDescription: 'Method Not Allowed',
               headers: { allow: { value: SITE_METHODS.join(', ') } } };
    }
    request.uri = spaUri(request.uri);
    request.querystring = {};
    request.cookies = routerCookies(request.cookies);
  }
  return request;
}

// The weight is exactly a decimal integer from 0 to 100 as the cutover CLI writes it ("0".."100"): no sign, no
// spaces, no leading zeros, no exponent or hex.
async function readSplit() {
  try {
    var store = cf.kvs();
    var weight = await store.get('weight');
    var salt = await store.get('salt');
    if (typeof weight !== 'string' || !WEIGHT.test(weight) || !salt) {
      return null;
    }
    return { weight: Number(weight), salt: salt };
  } catch (e) {
    return null;
  }
}

function routerCookies(cookies) {
  var kept = {};
  ROUTER_COOKIES.forEach(function (name) {
    if (cookies && cookies[name]) {
      kept[name] = cookies[name];
    }
  });
  return kept;
}
