// The engine's worker: owns the GPUDevice; the page reaches it only through EngineApi (comlink).
import { expose } from 'comlink';
import { Engine } from './engine';

expose(new Engine());
