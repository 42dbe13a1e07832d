/** Binding the emulators: loopback only, so nothing local is ever reachable from the network. */
import type { AddressInfo, Server } from "node:net";

/** Listens on 127.0.0.1 (port 0: the OS picks one) and resolves with the port. */
export async function listenOnLoopback(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}
