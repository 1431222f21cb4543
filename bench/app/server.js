// The app bench/deploy.py reloads under load, with solo and with pm2: a
// plain Node.js HTTP server that says which release it is, answers
// /healthz, tells pm2 when it listens (wait_ready), and on SIGINT/SIGTERM
// stops accepting, finishes its requests and exits.
const http = require("http");
const fs = require("fs");

let version = "unknown";
try { version = fs.readFileSync("version.txt", "utf8").trim(); } catch (_) {}
const server = http.createServer((req, res) => {
  if (req.url === "/healthz") { res.end("ok"); return; }
  res.end(`hello from ${version}`);
});
server.keepAliveTimeout = 5000;
server.listen(Number(process.env.PORT || 3000), "127.0.0.1", () => {
  if (process.send) process.send("ready");
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 8000).unref();
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
