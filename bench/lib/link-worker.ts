// Worker-thread side of linkThread (link.ts): one Link, started and stopped by messages.
import { parentPort } from 'node:worker_threads';
import { Link, type LinkReply, type LinkRequest } from './link.js';

let link: (Link & { port: number }) | undefined;
parentPort!.on('message', (request: LinkRequest) => {
  void (async () => {
    let reply: LinkReply;
    if ('start' in request) {
      link = await Link.start(request.start.targetPort, request.start);
      reply = { port: link.port };
    } else {
      const lateness = link!.lateness();
      await link!.close();
      reply = { lateness };
    }
    parentPort!.postMessage(reply);
  })();
});
