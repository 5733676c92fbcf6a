// cloudfront-js-2.0, viewer-response on every behaviour of a stage with a legacy origin: keeps the visitor-id
// cookie equal to the request's routing subject. A first visit routed by IP and user agent gets that same id, so
// its next requests (now routed by the cookie) stay in the same cohort; after sign-in the cookie follows the
// token's subject, so page loads (which carry no token) and API calls of one user land on the same side.
// The helpers are appended from cohort.js.
function handler(event) {
  var subject = routingSubject(event.request, event.viewer);
  var cookie = event.request.cookies && event.request.cookies[VISITOR_COOKIE];
  if (!cookie || cookie.value !== subject) {
    event.response.cookies[VISITOR_COOKIE] = {
      value: subject,
      attributes: 'Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=31536000'
    };
  }
  return event.response;
}
