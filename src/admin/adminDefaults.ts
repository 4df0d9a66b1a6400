// The admin server's defaults, apart from the server: the settings table reads them without loading it
// (src/admin/adminServer.ts re-exports them).

/** Default admin address: loopback only. */
export const DEFAULT_ADMIN_HOST = '127.0.0.1';
export const DEFAULT_ADMIN_PORT = 9090;
