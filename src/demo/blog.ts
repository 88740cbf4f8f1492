/**
 * @module demo/blog
 * The demo site `npm start` (warden quickstart) puts Warden in front of when no upstream is
 * given: a small blog that answers like WordPress where the story of the project happens —
 * posts with comment forms, wp-login.php, the REST API's posts, and an /xmlrpc.php that
 * registers pingbacks and answers faults the way WordPress does — so a newcomer can send
 * it traffic, good and bad, and see what Warden lets through.
 *
 * It keeps comments and pingbacks in memory (a few per post, the oldest dropped) and
 * never fetches a pingback's source: it is a demo, not a blog engine. It imports nothing
 * of Warden's; only the CLI wires it in.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DemoBlog {
  /** The blog's origin, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Requests it has answered, by path (without the query). */
  readonly requests: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

interface Post {
  readonly id: number;
  readonly path: string;
  readonly title: string;
  readonly date: string;
  readonly text: string;
  readonly comments: Array<{ author: string; text: string }>;
  readonly pingbacks: string[];
}

/** What a post keeps of its comments and pingbacks: the demo must not grow without bound. */
const KEEP = 20;
/** The largest request body the demo reads (WordPress sites take more; the demo needs no more). */
const MAX_BODY = 1024 * 1024;

const POSTS: readonly Omit<Post, 'comments' | 'pingbacks'>[] = [
  {
    id: 12,
    path: '/2024/03/sourdough-at-altitude/',
    title: 'Sourdough at altitude',
    date: '2024-03-09',
    text: 'At 1,600 metres water boils at 94 °C and dough rises faster than the recipe says. Shorter proofs, a little more water, and a hotter oven for the first ten minutes.',
  },
  {
    id: 9,
    path: '/2024/01/a-starter-in-seven-days/',
    title: 'A starter in seven days',
    date: '2024-01-14',
    text: 'Flour, water, a jar and patience. Day three smells odd; keep going. By day seven it doubles in six hours and is ready to bake with.',
  },
];

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const escapeXml = escapeHtml;

function page(res: ServerResponse, status: number, title: string, body: string): void {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} – Crumb &amp; Crust</title>
<link rel="pingback" href="/xmlrpc.php"></head>
<body><header><a href="/">Crumb &amp; Crust</a> · <small>a demo blog behind Warden</small></header>
<main>${body}</main></body></html>
`;
  res.writeHead(status, { 'Content-Type': 'text/html; charset=UTF-8', 'X-Pingback': '/xmlrpc.php' });
  res.end(html);
}

function postPage(post: Post): string {
  const comments = post.comments.map((c) => `<li><b>${escapeHtml(c.author)}</b>: ${escapeHtml(c.text)}</li>`).join('\n');
  // Only web addresses become links: a javascript: source stays text.
  const pingbacks = post.pingbacks
    .map((p) => `<li>Pingback: ${/^https?:\/\//i.test(p) ? `<a href="${escapeHtml(p)}" rel="nofollow">${escapeHtml(p)}</a>` : escapeHtml(p)}</li>`)
    .join('\n');
  return `<article><h1>${escapeHtml(post.title)}</h1><time>${post.date}</time><p>${escapeHtml(post.text)}</p></article>
<section id="comments"><h2>${post.comments.length + post.pingbacks.length} responses</h2><ol>${comments}${pingbacks}</ol>
<form method="post" action="/wp-comments-post.php">
<p><label>Name <input name="author" required></label> <label>Email <input name="email" type="email"></label></p>
<p><label>Website <input name="url"></label></p>
<p><textarea name="comment" rows="4" cols="60" required></textarea></p>
<input type="hidden" name="comment_post_ID" value="${post.id}"><button>Post Comment</button>
</form></section>`;
}

/** The body of a request as text, or null when it is larger than MAX_BODY (the connection is then closed). */
function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve(null);
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(null));
  });
}

/** An XML-RPC answer: a string value, or a fault (WordPress's codes and words). */
function xmlrpc(res: ServerResponse, answer: { value: string } | { fault: number; message: string }): void {
  const inner =
    'value' in answer
      ? `<params><param><value><string>${escapeXml(answer.value)}</string></value></param></params>`
      : `<fault><value><struct><member><name>faultCode</name><value><int>${answer.fault}</int></value></member><member><name>faultString</name><value><string>${escapeXml(answer.message)}</string></value></member></struct></value></fault>`;
  res.writeHead(200, { 'Content-Type': 'text/xml; charset=UTF-8' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<methodResponse>\n  ${inner}\n</methodResponse>\n`);
}

const unescapeXml = (s: string): string =>
  s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-f]+);/gi, (_, e: string) => {
    const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
    if (e.startsWith('#x') || e.startsWith('#X')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(Number(e.slice(1)));
    return named[e.toLowerCase()] ?? '';
  });

/**
 * Answers an XML-RPC call as WordPress would, for the methods a demo needs. Warden is
 * what refuses malformed calls; a call that gets here anyway is answered with the fault
 * WordPress gives (its IXR parser's -32700).
 */
function answerXmlRpc(res: ServerResponse, body: string, posts: readonly Post[]): void {
  const name = /<methodCall>\s*<methodName>\s*([^<]*?)\s*<\/methodName>/.exec(body)?.[1];
  if (name === undefined) return xmlrpc(res, { fault: -32700, message: 'parse error. not well formed' });
  const params = [...body.matchAll(/<param>\s*<value>\s*(?:<string>)?([^<]*)(?:<\/string>)?\s*<\/value>\s*<\/param>/g)].map((m) => unescapeXml((m[1] ?? '').trim()));
  switch (name) {
    case 'demo.sayHello':
      return xmlrpc(res, { value: 'Hello!' });
    case 'system.listMethods':
      res.writeHead(200, { 'Content-Type': 'text/xml; charset=UTF-8' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<methodResponse><params><param><value><array><data>${['system.listMethods', 'pingback.ping', 'demo.sayHello']
          .map((m) => `<value><string>${m}</string></value>`)
          .join('')}</data></array></value></param></params></methodResponse>\n`,
      );
      return;
    case 'pingback.ping': {
      const [source, target] = params;
      if (source === undefined || target === undefined || params.length !== 2) return xmlrpc(res, { fault: -32602, message: 'server error. wrong number of method parameters.' });
      let targetPath: string;
      try {
        targetPath = new URL(target).pathname;
      } catch {
        return xmlrpc(res, { fault: 0, message: 'Is there no link to us?' });
      }
      const post = posts.find((p) => p.path === targetPath || p.path === `${targetPath}/`);
      if (post === undefined) return xmlrpc(res, { fault: 33, message: 'The specified target URL cannot be used as a target. It either does not exist, or it is not a pingback-enabled resource.' });
      if (post.pingbacks.includes(source)) return xmlrpc(res, { fault: 48, message: 'The pingback has already been registered.' });
      post.pingbacks.push(source);
      if (post.pingbacks.length > KEEP) post.pingbacks.shift();
      return xmlrpc(res, { value: `Pingback from ${source} to ${target} registered. Keep the web talking! :-)` });
    }
    default:
      return xmlrpc(res, { fault: -32601, message: `server error. requested method ${name} does not exist.` });
  }
}

async function handle(req: IncomingMessage, res: ServerResponse, posts: readonly Post[]): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://demo.invalid');
  const path = url.pathname;
  const method = req.method ?? 'GET';
  const body = method === 'GET' || method === 'HEAD' ? '' : await readBody(req);
  if (body === null) {
    res.writeHead(413, { 'Content-Type': 'text/plain', Connection: 'close' });
    return void res.end('Request body too large for the demo blog\n');
  }

  if (path === '/xmlrpc.php') {
    if (method !== 'POST') {
      res.writeHead(405, { 'Content-Type': 'text/plain; charset=UTF-8', Allow: 'POST' });
      return void res.end('XML-RPC server accepts POST requests only.');
    }
    return answerXmlRpc(res, body, posts);
  }
  if (path === '/' && (method === 'GET' || method === 'HEAD')) {
    const search = url.searchParams.get('s');
    const found = search === null ? posts : posts.filter((p) => `${p.title} ${p.text}`.toLowerCase().includes(search.toLowerCase()));
    const list = found.map((p) => `<li><a href="${p.path}">${escapeHtml(p.title)}</a> <time>${p.date}</time></li>`).join('\n');
    const heading = search === null ? '' : `<h1>Search results for “${escapeHtml(search)}”</h1>`;
    return page(res, 200, search === null ? 'Home' : 'Search', `${heading}<form action="/"><input name="s" placeholder="Search"></form><ul>${list || '<li>Nothing found.</li>'}</ul>`);
  }
  const post = posts.find((p) => p.path === path);
  if (post !== undefined && (method === 'GET' || method === 'HEAD')) return page(res, 200, post.title, postPage(post));
  if (path === '/wp-comments-post.php' && method === 'POST') {
    const form = new URLSearchParams(body);
    const target = posts.find((p) => String(p.id) === form.get('comment_post_ID'));
    const author = (form.get('author') ?? '').trim();
    const text = (form.get('comment') ?? '').trim();
    if (target === undefined || author === '' || text === '') {
      return page(res, 400, 'Comment Submission Failure', '<p><strong>Error:</strong> Please fill the required fields.</p>');
    }
    target.comments.push({ author: author.slice(0, 100), text: text.slice(0, 2000) });
    if (target.comments.length > KEEP) target.comments.shift();
    res.writeHead(302, { Location: `${target.path}#comments` });
    return void res.end();
  }
  if (path === '/wp-login.php') {
    const form = `<form method="post" action="/wp-login.php"><p><label>Username <input name="log"></label></p><p><label>Password <input name="pwd" type="password"></label></p><button>Log In</button></form>`;
    if (method === 'POST') {
      const user = new URLSearchParams(body).get('log') ?? '';
      return page(res, 200, 'Log In', `<p><strong>Error:</strong> The password you entered for the username <strong>${escapeHtml(user)}</strong> is incorrect.</p>${form}`);
    }
    return page(res, 200, 'Log In', form);
  }
  if (path === '/wp-json/wp/v2/posts' && (method === 'GET' || method === 'HEAD')) {
    const json = JSON.stringify(posts.map((p) => ({ id: p.id, date: p.date, link: p.path, title: { rendered: p.title }, content: { rendered: `<p>${escapeHtml(p.text)}</p>` } })));
    res.writeHead(200, { 'Content-Type': 'application/json; charset=UTF-8' });
    return void res.end(json);
  }
  return page(res, 404, 'Page not found', '<h1>Oops! That page can’t be found.</h1>');
}

/**
 * Starts the demo blog on `host:port` (default 127.0.0.1 and a free port).
 *
 * @example
 * const blog = await startDemoBlog();
 * // blog.url === 'http://127.0.0.1:41234'
 * await blog.close();
 */
export async function startDemoBlog(options: { host?: string; port?: number } = {}): Promise<DemoBlog> {
  const posts: Post[] = POSTS.map((p) => ({ ...p, comments: [], pingbacks: [] }));
  const requests = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    requests.set(path, (requests.get(path) ?? 0) + 1);
    handle(req, res, posts).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`demo blog: ${(err as Error).message}\n`);
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
