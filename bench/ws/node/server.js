// The push server of bench/ws in Node.js with the `ws` package: GET /stream?token=T
// (WebSocket) subscribes to T and to everyone; POST /message with {"token": T, "message": M}
// or {"topic": "all", "message": M} answers {"id": N} and sends {"id":N,"message":M} to the
// subscribers. A client with more than 1 MiB unsent is terminated.
"use strict";
const http = require("http");
const { WebSocketServer } = require("ws");

const topics = new Map(); // topic -> Set of sockets
let nextId = 0;
const validToken = (t) => typeof t === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(t);

function subscribe(ws, topic) {
  let set = topics.get(topic);
  if (!set) topics.set(topic, (set = new Set()));
  set.add(ws);
}
function unsubscribe(ws, topic) {
  const set = topics.get(topic);
  if (set && set.delete(ws) && set.size === 0) topics.delete(topic);
}

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
const server = http.createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/message") {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    let p;
    try { p = JSON.parse(Buffer.concat(chunks)); } catch { p = null; }
    let topic = null;
    if (p && typeof p.message === "string") {
      if (p.token !== undefined && p.topic === undefined && validToken(p.token)) topic = p.token;
      else if (p.token === undefined && p.topic === "all") topic = "*";
    }
    if (topic === null) {
      res.writeHead(400).end("give a valid token or topic all\n");
      return;
    }
    const id = ++nextId;
    const payload = JSON.stringify({ id, message: p.message });
    const set = topics.get(topic);
    if (set) {
      for (const ws of set) {
        if (ws.bufferedAmount > 1 << 20) ws.terminate();
        else ws.send(payload);
      }
    }
    res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ id }));
  });
});
server.on("upgrade", (req, socket, head) => {
  const url = new URL(req.url, "http://x");
  const token = url.searchParams.get("token");
  if (url.pathname !== "/stream" || !validToken(token)) {
    socket.end("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    subscribe(ws, token);
    subscribe(ws, "*");
    ws.on("close", () => { unsubscribe(ws, token); unsubscribe(ws, "*"); });
    ws.on("error", () => {});
  });
});
const [host, port] = (process.argv[2] || "127.0.0.1:8080").split(":");
server.keepAliveTimeout = 600000;
server.listen(Number(port), host);
