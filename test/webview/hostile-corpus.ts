/**
 * Hostile payloads for the webviews: what a dataset row, a model's output, judge feedback, a run
 * name or an error message could hold. Each sets `window.__pwned` (or fetches evil.example /
 * 127.0.0.1:9) if it ever executes or loads. `MARK` is plain text each payload keeps, so a test
 * can check the text is still shown.
 */
export const MARK = "CANARYTEXT";

export const HOSTILE_PAYLOADS: readonly string[] = [
  // Script and event handlers
  `${MARK}1 <script>window.__pwned='script'</script>`,
  `${MARK}2 <img src=x onerror="window.__pwned='onerror'">`,
  `${MARK}3 <body onload="window.__pwned='body'"><div onmouseover="window.__pwned='hover'">hover</div>`,
  `${MARK}4 <details open ontoggle="window.__pwned='toggle'"><summary>s</summary></details>`,
  // Script-breaking and HTML-context breaks
  `${MARK}5 </script><script>window.__pwned='break'</script>`,
  `${MARK}6 "><img src=x onerror=window.__pwned='attr'>`,
  `${MARK}7 '></textarea></title></style><svg/onload=window.__pwned='ctx'>`,
  // Links
  `${MARK}8 <a href="javascript:window.__pwned='js'">js link</a> <a href="data:text/html,<script>parent.__pwned='data'</script>">data link</a>`,
  `${MARK}9 [md js](javascript:window.__pwned='mdjs') [md data](data:text/html;base64,PHNjcmlwdD5wYXJlbnQuX19wd25lZD0nYjY0Jzwvc2NyaXB0Pg==) [vbs](vbscript:msgbox) [cmd](command:workbench.action.terminal.new)`,
  `${MARK}10 <a href="jav&#x09;ascript:window.__pwned='tab'">tab js</a> <a href="&#106;avascript:window.__pwned='ent'">entity js</a>`,
  `${MARK}11 [local](http://127.0.0.1:9/steal?k=1) <http://127.0.0.1:9/auto> [file](file:///etc/passwd)`,
  // SVG, iframes, objects
  `${MARK}12 <svg><script>window.__pwned='svgscript'</script><animate onbegin="window.__pwned='anim'" attributeName=x dur=1s></animate><image href="https://evil.example/svg.png"/></svg>`,
  `${MARK}13 <iframe src="https://evil.example/f"></iframe><iframe srcdoc="<script>parent.__pwned='srcdoc'</script>"></iframe><object data="https://evil.example/o"></object><embed src="https://evil.example/e">`,
  // CSS injection
  `${MARK}14 <style>@import url(https://evil.example/i.css); body{background:url(https://evil.example/bg.png)}</style><div style="background-image:url(http://127.0.0.1:9/css.png)">css</div>`,
  `${MARK}15 <link rel=stylesheet href="https://evil.example/l.css"><link rel=prefetch href="https://evil.example/p"><meta http-equiv=refresh content="0;url=https://evil.example/">`,
  // Markdown image tricks
  `${MARK}16 ![tracker](https://evil.example/t.png) ![local](http://127.0.0.1:9/i.png) [![nested](https://evil.example/n.png)](https://evil.example/)`,
  `${MARK}17 <img srcset="https://evil.example/s.png 1x"> <picture><source srcset="https://evil.example/p.png"></picture> <video poster="https://evil.example/v.png"></video> <audio src="https://evil.example/a.mp3"></audio>`,
  // Forms and base
  `${MARK}18 <form action="https://evil.example/f"><input name=q><button formaction="javascript:window.__pwned='form'">go</button></form><base href="https://evil.example/">`,
  // Entity and Unicode tricks
  `${MARK}19 &lt;script&gt;window.__pwned='entity'&lt;/script&gt; \u202Egnp.exe\u202C \u200B\u200Dzero-width \uFF1Cscript\uFF1E fullwidth`,
  `${MARK}20 <a href="https://example.org/ok">ok link</a> <a href="https://exаmple.org/homoglyph">homoglyph</a>`,
  // mXSS
  `${MARK}21 <math><mtext><table><mglyph><style><img src=x onerror="window.__pwned='mxss'">`,
  `${MARK}22 <noscript><p title="</noscript><img src=x onerror=window.__pwned='noscript'>">`,
];

/** Deeply nested Markdown and HTML. */
export const NESTED = `${MARK}N ` + ">".repeat(5000) + " deep quote " + "<div>".repeat(3000) + "deep div" + "</div>".repeat(3000) + " " + "[".repeat(2000) + "x" + "]".repeat(2000);

/** About 1 MB of text. */
export const OVERSIZED = `${MARK}O ` + "lorem ipsum dolor sit amet ".repeat(40_000);

/** Every payload joined (for a single field). */
export const ALL = HOSTILE_PAYLOADS.join("\n\n");
