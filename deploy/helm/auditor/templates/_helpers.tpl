{{/*
Names: <release>-auditor unless the release name already says auditor; at most 36
characters, so that "<name>-worker-headless" stays a DNS label (63) and the StatefulSet's
name one its controller-revision-hash label fits after (52).
*/}}
{{- define "auditor.fullname" -}}
{{- if contains "auditor" .Release.Name -}}
{{- .Release.Name | trunc 36 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-auditor" .Release.Name | trunc 36 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/*
A block of lines (the output of another template) indented by N on a new line; nothing at
all when it is empty, so optional parts leave no blank lines. Call with (list N text).
*/}}
{{- define "auditor.block" -}}
{{- $n := index . 0 -}}
{{- with trim (index . 1) }}{{ nindent $n . }}{{ end -}}
{{- end -}}

{{- define "auditor.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Labels on every object; "auditor.selectorLabels" with a component for selectors. */}}
{{- define "auditor.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: auditor
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Call with (dict "root" $ "component" "worker"). */}}
{{- define "auditor.selectorLabels" -}}
app.kubernetes.io/name: auditor
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "auditor.workerHeadless" -}}
{{ include "auditor.fullname" . }}-worker-headless
{{- end -}}

{{/*
worker.memory (512Mi, 1Gi) in MiB; fails for any other form or below auditor's 128 MiB.
*/}}
{{- define "auditor.workerMemoryMiB" -}}
{{- $m := toString .Values.worker.memory -}}
{{- $mib := 0 -}}
{{- if regexMatch "^[0-9]+Mi$" $m -}}
{{- $mib = trimSuffix "Mi" $m | int -}}
{{- else if regexMatch "^[0-9]+Gi$" $m -}}
{{- $mib = mul (trimSuffix "Gi" $m | int) 1024 -}}
{{- else -}}
{{- fail (printf "worker.memory: %q is not written like 512Mi or 1Gi" $m) -}}
{{- end -}}
{{- if lt (int $mib) 128 -}}
{{- fail (printf "worker.memory: %s is below auditor's minimum of 128Mi" $m) -}}
{{- end -}}
{{- $mib -}}
{{- end -}}

{{/*
The worker's memory request and limit: the request is worker.memory (what auditor splits
over its parts, --memory), the limit adds worker.memoryHeadroomPercent of it.
Returns "<request>Mi <limit>Mi".
*/}}
{{- define "auditor.workerMemory" -}}
{{- $request := include "auditor.workerMemoryMiB" . | int -}}
{{- $limit := div (mul $request (add 100 (int .Values.worker.memoryHeadroomPercent))) 100 -}}
{{- printf "%dMi %dMi" $request $limit -}}
{{- end -}}

{{- define "auditor.workerResources" -}}
{{- if .Values.worker.resources -}}
{{ toYaml .Values.worker.resources }}
{{- else -}}
{{- $memory := splitList " " (include "auditor.workerMemory" .) -}}
requests:
  cpu: {{ .Values.worker.cpuRequest | quote }}
  memory: {{ index $memory 0 }}
limits:
  memory: {{ index $memory 1 }}
{{- end -}}
{{- end -}}

{{/* Pod and container security: non-root, read-only root file system, no privileges. */}}
{{- define "auditor.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "auditor.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* Environment every command shares: Kafka connection and security, log level. */}}
{{- define "auditor.kafkaEnv" -}}
- name: AUDITOR_BOOTSTRAP_SERVERS
  value: {{ .Values.kafka.bootstrapServers | quote }}
- name: AUDITOR_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- with .Values.kafka.securityProtocol }}
- name: AUDITOR_KAFKA_SECURITY_PROTOCOL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.kafka.sasl.mechanism }}
- name: AUDITOR_KAFKA_SASL_MECHANISM
  value: {{ . | quote }}
{{- end }}
{{- with .Values.kafka.sasl.username }}
- name: AUDITOR_KAFKA_SASL_USERNAME
  value: {{ . | quote }}
{{- end }}
{{- with .Values.kafka.sasl.passwordSecret.name }}
{{- if eq $.Values.kafka.sasl.passwordFrom "env" }}
- name: AUDITOR_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.kafka.sasl.passwordSecret.key }}
{{- else if eq $.Values.kafka.sasl.passwordFrom "file" }}
- name: AUDITOR_KAFKA_SASL_PASSWORD_FILE
  value: /etc/auditor/kafka-sasl/{{ $.Values.kafka.sasl.passwordSecret.key }}
{{- else }}
{{- fail "kafka.sasl.passwordFrom must be env or file" }}
{{- end }}
{{- end }}
{{- if and .Values.kafka.ssl.caSecret .Values.kafka.ssl.caConfigMap }}
{{- fail "kafka.ssl: set caSecret or caConfigMap, not both" }}
{{- end }}
{{- if or .Values.kafka.ssl.caSecret .Values.kafka.ssl.caConfigMap }}
- name: AUDITOR_KAFKA_SSL_CA_LOCATION
  value: /etc/auditor/kafka-ca/{{ .Values.kafka.ssl.caKey }}
{{- end }}
{{- end -}}

{{/* `--kafka key=value` arguments from kafka.properties, sorted by key. */}}
{{- define "auditor.kafkaArgs" -}}
{{- range $key, $value := .Values.kafka.properties }}
- --kafka
- {{ printf "%s=%v" $key $value | quote }}
{{- end }}
{{- end -}}

{{- define "auditor.kafkaVolumeMounts" -}}
{{- if and .Values.kafka.sasl.passwordSecret.name (eq .Values.kafka.sasl.passwordFrom "file") }}
- name: kafka-sasl
  mountPath: /etc/auditor/kafka-sasl
  readOnly: true
{{- end }}
{{- if or .Values.kafka.ssl.caSecret .Values.kafka.ssl.caConfigMap }}
- name: kafka-ca
  mountPath: /etc/auditor/kafka-ca
  readOnly: true
{{- end }}
{{- end -}}

{{/* Secret files readable by the owner and fsGroup only (auditor warns about others). */}}
{{- define "auditor.kafkaVolumes" -}}
{{- if and .Values.kafka.sasl.passwordSecret.name (eq .Values.kafka.sasl.passwordFrom "file") }}
- name: kafka-sasl
  secret:
    secretName: {{ .Values.kafka.sasl.passwordSecret.name }}
    defaultMode: 0440
{{- end }}
{{- if .Values.kafka.ssl.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.ssl.caSecret }}
{{- else if .Values.kafka.ssl.caConfigMap }}
- name: kafka-ca
  configMap:
    name: {{ .Values.kafka.ssl.caConfigMap }}
{{- end }}
{{- end -}}

{{/*
The tick API's and the dashboard's token and TLS, from existing Secrets.
Call with (dict "root" $ "c" .Values.tickApi).
*/}}
{{- define "auditor.httpSecurityArgs" -}}
{{- if .c.authTokenSecret.name }}
- --auth-token-file
- /etc/auditor/auth/{{ .c.authTokenSecret.key }}
{{- end }}
{{- if .c.tlsSecret }}
- --tls-cert
- /etc/auditor/tls/tls.crt
- --tls-key
- /etc/auditor/tls/tls.key
{{- end }}
{{- end -}}

{{- define "auditor.httpSecurityMounts" -}}
{{- if .c.authTokenSecret.name }}
- name: auth-token
  mountPath: /etc/auditor/auth
  readOnly: true
{{- end }}
{{- if .c.tlsSecret }}
- name: tls
  mountPath: /etc/auditor/tls
  readOnly: true
{{- end }}
{{- end -}}

{{- define "auditor.httpSecurityVolumes" -}}
{{- if .c.authTokenSecret.name }}
- name: auth-token
  secret:
    secretName: {{ .c.authTokenSecret.name }}
    defaultMode: 0440
{{- end }}
{{- if .c.tlsSecret }}
- name: tls
  secret:
    secretName: {{ .c.tlsSecret }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "auditor.scheme" -}}
{{- if .tlsSecret }}HTTPS{{ else }}HTTP{{ end -}}
{{- end -}}

{{/* Scrape annotations, the convention Prometheus' Kubernetes pod discovery is relabelled on. */}}
{{- define "auditor.scrapeAnnotations" -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
prometheus.io/scheme: {{ .scheme | lower }}
{{- end -}}
