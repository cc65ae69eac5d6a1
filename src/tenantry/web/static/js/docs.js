// Starts Swagger UI or ReDoc on /openapi.json (no inline script: the CSP forbids it).
"use strict";
(function () {
  const root = document.getElementById("docs");
  const meta = document.querySelector('meta[name="csrf-token"]');
  const token = meta ? meta.content : null;
  if (root.dataset.kind === "swagger") {
    window.SwaggerUIBundle({
      url: root.dataset.spec,
      dom_id: "#docs",
      deepLinking: true,
      validatorUrl: null,
      // "Try it out" from this page is a browser request: it carries the CSRF token
      // like our own pages do.
      requestInterceptor: function (request) {
        if (token && request.method && request.method.toUpperCase() !== "GET") {
          request.headers["X-CSRF-Token"] = token;
        }
        return request;
      },
    });
  } else {
    window.Redoc.init(root.dataset.spec, { hideDownloadButton: false }, root);
  }
})();
