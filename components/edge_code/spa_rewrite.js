// cloudfront-js-2.0, viewer-request on the site behaviour: the single-page-app fallback.
// A path without a file extension is a client-side route, served by /index.html (200). Done here rather than
// with distribution-wide custom error responses, which would also replace the API's JSON 403/404 answers.
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  var lastSlash = uri.lastIndexOf('/');
  if (uri.lastIndexOf('.') <= lastSlash) {
    request.uri = '/index.html';
  }
  return request;
}
