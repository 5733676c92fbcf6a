import cf from 'cloudfront';
// cloudfront-js-2.0, viewer-request on every behaviour of a stage with a legacy origin: the cutover router.
// Reads `weight` (0-100) and `salt` from the KeyValueStore; a subject whose stable bucket in [0, 100) is below the
// weight is served by the new stack, everyone else by the `legacy` origin, so raising the weight only moves people
// to the new stack and lowering it only moves them back. A QA override pins either side. The cohort goes into a
// request header that is part of the site's cache key (a cached answer never crosses cohorts) and that both
// backends can log. If the store cannot be read, everyone goes to legacy. The helpers are appended from
// cohort.js and spa_uri.js.
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
    request.uri = spaUri(request.uri);
  }
  return request;
}

async function readSplit() {
  try {
    var store = cf.kvs();
    var weight = Number(await store.get('weight'));
    var salt = await store.get('salt');
    if (Math.floor(weight) !== weight || weight < 0 || weight > 100 || !salt) {
      return null;
    }
    return { weight: weight, salt: salt };
  } catch (e) {
    return null;
  }
}
