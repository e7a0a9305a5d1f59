// A bare grpc-js echo server in its own process (as a triad node is), for the latency floor.
import { loadPackageDefinition, Server, ServerCredentials } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

const proto = loadPackageDefinition(loadSync(fileURLToPath(new URL('./echo.proto', import.meta.url))));
const server = new Server();
server.addService(proto.bench.Echo.service, { Echo: (call, callback) => callback(null, call.request) });
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`${port}\n`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
