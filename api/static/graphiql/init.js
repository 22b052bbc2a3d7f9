// Mounts GraphiQL on the page api/graphiql.py renders. A file, not an inline
// script, so the page's Content-Security-Policy can forbid inline scripts.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("graphiql-config").textContent);
  var fetcher = GraphiQL.createFetcher({ url: config.endpoint || window.location.pathname });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: config.defaultQuery,
      defaultHeaders: config.defaultHeaders,
      defaultEditorToolsVisibility: "headers",
    })
  );
})();
