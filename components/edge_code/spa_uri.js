
// The single-page-app fallback: a path without a file extension is a client-side route, served by /index.html.
function spaUri(uri) {
  return uri.lastIndexOf('.') <= uri.lastIndexOf('/') ? '/index.html' : uri;
}
