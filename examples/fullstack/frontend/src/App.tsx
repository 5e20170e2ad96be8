import { useEffect, useState } from "react";
import { healthCheck } from "./client";
import { apiUrl } from "./config";

export function App() {
  const [status, setStatus] = useState("checking…");

  useEffect(() => {
    healthCheck()
      .then((health) => setStatus(health.status))
      .catch((error: Error) => setStatus(`unreachable (${error.message})`));
  }, []);

  return (
    <main>
      <h1>Full Stack Notes</h1>
      <p>
        API at <code>{apiUrl}</code> is {status}
      </p>
    </main>
  );
}
