/** The one page served without a session: a form for the one-time code `triad console login` printed. No script. */
export function signInPage(message?: string): string {
  const note = message ? `<p class="note" role="alert">${escapeHtml(message)}</p>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>triad console — sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1d2330}
input{width:100%;font:inherit;padding:.4rem;box-sizing:border-box}button{font:inherit;margin-top:.6rem;padding:.4rem 1rem}
.note{background:#fff3cd;border:1px solid #e0c36a;padding:.5rem .8rem}code{background:#eef0f4;padding:0 .2rem}</style>
</head><body><h1>triad console</h1>${note}
<p>Sign in with a one-time code. On a machine with an operator or viewer certificate run
<code>triad console login --role viewer</code> (or <code>--role operator</code>) and open the URL it prints, or paste its code here.</p>
<form method="get" action="/console/login"><label for="token">one-time code</label>
<input id="token" name="token" autocomplete="off" required><button type="submit">Sign in</button></form>
</body></html>
`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
