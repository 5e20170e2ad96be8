@echo off
rem rig {{RIG_VERSION}}: the committed launcher for Windows, written by "rig self install".
rem Runs a compiled rig from .rig-tool\bin\ (checksum checked), else the bundle
rem .rig-tool\rig.js with deno on PATH, "npx deno@{{DENO_VERSION}}" or "uvx deno@{{DENO_VERSION}}".
setlocal
set "RIG_TOOL=%~dp0.rig-tool"
set "RIG_LAUNCHER_VERSION={{RIG_VERSION}}"
set "DENO_NO_UPDATE_CHECK=1"
set "DENO_NO_PACKAGE_JSON=1"
set "RIG_TARGET=x86_64-pc-windows-msvc"
set "RIG_EXE=%RIG_TOOL%\bin\rig-%RIG_TARGET%.exe"
if exist "%RIG_EXE%" (
  call :verify "bin/rig-%RIG_TARGET%.exe" "%RIG_EXE%" || exit /b 3
  "%RIG_EXE%" %*
  exit /b %ERRORLEVEL%
)
call :verify "rig.js" "%RIG_TOOL%\rig.js" || exit /b 3
where deno >nul 2>nul && (
  deno run -A --no-config --quiet "%RIG_TOOL%\rig.js" %*
  exit /b %ERRORLEVEL%
)
where npx >nul 2>nul && (
  npx --yes deno@{{DENO_VERSION}} run -A --no-config --quiet "%RIG_TOOL%\rig.js" %*
  exit /b %ERRORLEVEL%
)
where uvx >nul 2>nul && (
  uvx deno@{{DENO_VERSION}} run -A --no-config --quiet "%RIG_TOOL%\rig.js" %*
  exit /b %ERRORLEVEL%
)
echo error: rig needs Deno {{DENO_MIN}} or newer to run, and found no way to get it 1>&2
echo hint: Install one of: Deno (https://deno.com, or: npm install -g deno), Node.js (rig then runs "npx deno@{{DENO_VERSION}}") or uv (rig then runs "uvx deno@{{DENO_VERSION}}") 1>&2
exit /b 3

:verify
rem %1: the name listed in SHA256SUMS, %2: the file. Refuses a file that does not match.
set "RIG_WANT="
for /f "usebackq tokens=1,2" %%a in ("%RIG_TOOL%\SHA256SUMS") do if "%%b"==%1 set "RIG_WANT=%%a"
for /f "usebackq delims=" %%h in (`powershell -NoProfile -Command "(Get-FileHash -Algorithm SHA256 -LiteralPath '%~2').Hash.ToLower()"`) do set "RIG_GOT=%%h"
if not defined RIG_WANT goto :mismatch
if /i "%RIG_WANT%"=="%RIG_GOT%" exit /b 0
:mismatch
echo error: ".rig-tool/%~1" does not match its checksum in .rig-tool\SHA256SUMS: refusing to run it 1>&2
echo hint: Restore the committed copy (git checkout -- .rig-tool) or reinstall it: rig self update 1>&2
exit /b 3
