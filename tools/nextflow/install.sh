#!/usr/bin/env bash
# Installs the Nextflow runtime resolved by pom.xml and a launcher at $1/nextflow.
# usage: install.sh BINDIR LIBDIR
set -euo pipefail
bindir=$1
libdir=$2
here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's:.*<nextflow.version>\(.*\)</nextflow.version>.*:\1:p' "$here/pom.xml")

if [ ! -f "$libdir/nextflow-$version.jar" ]; then
  tmp="$libdir.tmp.$$"
  rm -rf "$tmp"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp"
  rm -rf "$libdir"
  mv "$tmp" "$libdir"
fi

# The --add-opens list mirrors what the official launcher passes on Java 17.
cat > "$bindir/nextflow.tmp" <<LAUNCHER
#!/usr/bin/env bash
# Nextflow $version from Maven Central (written by tools/nextflow/install.sh).
here=\$(cd "\$(dirname "\${BASH_SOURCE[0]}")" && pwd)
export PATH="\$here:\$PATH"
export NXF_OFFLINE=true
export NXF_DISABLE_CHECK_LATEST=true
export NXF_HOME=\${NXF_HOME:-"$libdir/home"}
export NXF_PLUGINS_DIR=\${NXF_PLUGINS_DIR:-"\$NXF_HOME/plugins"}
opens=()
for p in java.lang java.io java.nio java.net java.util java.util.concurrent \\
         java.util.concurrent.locks java.util.concurrent.atomic java.util.regex \\
         sun.nio.ch sun.nio.fs sun.net.www.protocol.http sun.net.www.protocol.https \\
         sun.net.www.protocol.ftp sun.net.www.protocol.file jdk.internal.misc jdk.internal.vm; do
  opens+=("--add-opens=java.base/\$p=ALL-UNNAMED")
done
exec java -Djava.awt.headless=true -XX:+TieredCompilation -XX:TieredStopAtLevel=1 \\
  \${NXF_OPTS:-} "\${opens[@]}" --add-opens=java.desktop/java.awt.font=ALL-UNNAMED \\
  -cp "$libdir/*" nextflow.cli.Launcher "\$@"
LAUNCHER
chmod +x "$bindir/nextflow.tmp"
mv "$bindir/nextflow.tmp" "$bindir/nextflow"
