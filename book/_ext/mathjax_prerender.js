// Typeset TeX to MathJax 3 CommonHTML at build time (called by fast_site.py; Node.js 18+).
// The MathJax components are the ones sphinx-mathjax-offline ships (the same MathJax the browser
// would run). stdin: {"mathjax": DIR, "fontURL": URL, "tex": {...}, "items": [[tex, display], ...]}
// stdout: {"html": [...], "errors": [[index, message], ...], "css": "..."}
const fs = require('fs');

const request = JSON.parse(fs.readFileSync(0, 'utf8'));
global.MathJax = {
  loader: {
    paths: {mathjax: request.mathjax},
    load: ['input/tex', 'output/chtml', 'adaptors/liteDOM', 'a11y/assistive-mml'],
    require: require,
  },
  tex: request.tex || {},
  chtml: {fontURL: request.fontURL},
  startup: {typeset: false},
};
require(request.mathjax + '/startup.js');

MathJax.startup.promise.then(() => {
  const adaptor = MathJax.startup.adaptor;
  const html = [], errors = [];
  request.items.forEach(([tex, display], i) => {
    const node = MathJax.tex2chtml(tex, {display: display});
    const out = adaptor.outerHTML(node);
    const error = out.match(/data-mjx-error="([^"]*)"/);
    if (error) errors.push([i, error[1]]);
    html.push(out);
  });
  const css = adaptor.textContent(MathJax.chtmlStylesheet());
  process.stdout.write(JSON.stringify({html: html, errors: errors, css: css}));
}).catch((err) => {
  process.stderr.write('MathJax failed: ' + (err && err.stack || err) + '\n');
  process.exit(1);
});
