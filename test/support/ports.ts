// Ephemeral ports on loopback. Servers started by the harness listen on port 0 and report the
// port the kernel chose, which is race-free; `freePort` is for the few places where a port
// must be known before the process that binds it starts (e.g. a config rendered up front).

import { createServer } from "node:net";

export const LOOPBACK = "127.0.0.1";

/** A port that was free on 127.0.0.1 a moment ago (bind to 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, LOOPBACK, () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("no port"));
        return;
      }
      const { port } = address;
      server.close(() => resolve(port));
    });
  });
}
