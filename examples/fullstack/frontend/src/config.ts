/** The backend's base URL (VITE_API_URL in .env; rig run points it at the server it starts). */
export const apiUrl: string =
  import.meta.env.VITE_API_URL ?? "http://localhost:8000";
