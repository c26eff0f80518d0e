// Answers IAM authorization questions with @cloud-copilot/iam-simulate, the
// maintained evaluator the tests use (identity, resource, trust and KMS key
// policies, every condition operator, and the Service Authorization
// Reference's resource types for each action).
//
//   node simulator_server.mjs SOCKET_PATH
//
// Protocol: one JSON Simulation per line on a Unix socket connection, one
// JSON answer per line: {"decision": "Allowed" | "ExplicitlyDenied" |
// "ImplicitlyDenied"} or {"error": "..."} when the request is invalid (an
// unknown action, a resource the action cannot take, a malformed policy).
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { unlinkSync } from 'node:fs'
import { runSimulation } from '@cloud-copilot/iam-simulate'

async function answer(line) {
  try {
    const simulation = JSON.parse(line)
    const response = await runSimulation(simulation, { simulationMode: 'Strict' })
    if (response.resultType === 'error') {
      return { error: JSON.stringify(response.errors) }
    }
    return { decision: response.overallResult }
  } catch (error) {
    return { error: String(error) }
  }
}

const [socketPath] = process.argv.slice(2)
try {
  unlinkSync(socketPath)
} catch {}
const server = createServer((connection) => {
  const lines = createInterface({ input: connection })
  lines.on('line', async (line) => {
    connection.write(JSON.stringify(await answer(line)) + '\n')
  })
  connection.on('error', () => {})
})
server.listen(socketPath, () => process.stdout.write('ready\n'))
process.stdin.on('end', () => server.close(() => process.exit(0)))
process.stdin.resume()
