// cloudfront-js-2.0, viewer-request on the site behaviour of a stage without a legacy origin: the SPA fallback
// (spaUri, appended from spa_uri.js). Done here rather than with distribution-wide custom error responses, which
// would also replace the API's JSON 403/404 answers.
function handler(event) {
  var request = event.request;
  request.uri = spaUri(request.uri);
  return request;
}
