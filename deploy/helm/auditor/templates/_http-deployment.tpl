{{/*
The tick API and the dashboard: the same HTTP server (worker/http), one Deployment and one
Service each. Call with (dict "root" $ "component" "tick-api" "c" .Values.tickApi
"args" (list ...command-specific arguments...)).
*/}}
{{- define "auditor.httpDeployment" -}}
{{- $root := .root -}}
{{- $c := .c -}}
{{- $name := printf "%s-%s" (include "auditor.fullname" $root) .component -}}
{{- $selector := include "auditor.selectorLabels" (dict "root" $root "component" .component) -}}
{{- $scheme := include "auditor.scheme" $c -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- include "auditor.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  {{- if not (and $c.autoscaling $c.autoscaling.enabled) }}
  replicas: {{ $c.replicas }}
  {{- end }}
  selector:
    matchLabels:
      {{- $selector | nindent 6 }}
  template:
    metadata:
      labels:
        {{- $selector | nindent 8 }}
      annotations:
        {{- include "auditor.scrapeAnnotations" (dict "port" $c.port "scheme" $scheme) | nindent 8 }}
        {{- with $c.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      securityContext:
        {{- include "auditor.podSecurityContext" $root | nindent 8 }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "auditor.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            - {{ .component }}
            - --port
            - {{ $c.port | quote }}
            {{- range .args }}
            - {{ . | quote }}
            {{- end }}
            {{- include "auditor.block" (list 12 (include "auditor.httpSecurityArgs" (dict "c" $c))) }}
            {{- include "auditor.block" (list 12 (include "auditor.kafkaArgs" $root)) }}
            {{- with $c.extraArgs }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          env:
            {{- include "auditor.kafkaEnv" $root | nindent 12 }}
            {{- with $c.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            - name: http
              containerPort: {{ $c.port }}
          # /healthz needs no token (README "Securing the tick API and dashboard").
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
              scheme: {{ $scheme }}
            periodSeconds: 5
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
              scheme: {{ $scheme }}
            periodSeconds: 10
            failureThreshold: 3
          resources:
            {{- toYaml $c.resources | nindent 12 }}
          securityContext:
            {{- include "auditor.containerSecurityContext" $root | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- include "auditor.block" (list 12 (include "auditor.httpSecurityMounts" (dict "c" $c))) }}
            {{- include "auditor.block" (list 12 (include "auditor.kafkaVolumeMounts" $root)) }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        {{- include "auditor.block" (list 8 (include "auditor.httpSecurityVolumes" (dict "c" $c))) }}
        {{- include "auditor.block" (list 8 (include "auditor.kafkaVolumes" $root)) }}
      {{- with $c.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  labels:
    {{- include "auditor.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  type: {{ $c.service.type }}
  selector:
    {{- $selector | nindent 4 }}
  ports:
    - name: http
      port: {{ $c.service.port }}
      targetPort: http
{{- end -}}
