// The ceiling: a bare node:http server that answers every request at once with a 4 KiB body.
import { createServer } from 'node:http';

const body = Buffer.alloc(4096, 120);
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ port: typeof address === 'object' && address !== null ? address.port : 0 })}\n`,
  );
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
